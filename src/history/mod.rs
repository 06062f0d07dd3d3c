//! History: the activity families as they evolved, from the store, in the OpenMetrics text
//! format with timestamps, ready for `promtool tsdb create-blocks-from openmetrics`.
//!
//! The stored activities are recorded again, oldest first by their own time, by the same
//! recorder `/metrics` uses; after each, every metric whose value changed is written at the
//! activity's time. A metric (a histogram with all its buckets) is written whole at each of its
//! points, and each metric's points are in time order, as OpenMetrics asks.

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::catalogue::{FAMILIES, Family, Kind};

mod output;
use crate::record::{Recorder, Settings};
pub use output::Output;

/// What to write.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// How far before `now` the history starts.
    pub since: Duration,
    /// Every metric is also written at each multiple of this.
    pub step: Option<Duration>,
    /// The end: the state a scrape would show now.
    pub now: DateTime<Utc>,
}

/// What `history` wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Written {
    pub activities: u64,
    pub metrics: usize,
    pub samples: usize,
}

/// One metric: its family and its label set without `le`.
type MetricKey = (usize, String);

/// A metric's lines (series and value text, as the text format writes them) at one time.
type Point = Vec<(String, String)>;

/// The state of every activity family's samples, and the points kept so far.
struct Timeline {
    since: f64,
    /// The value text of every sample line, by series (`name{labels}`).
    current: HashMap<String, String>,
    points: HashMap<MetricKey, Vec<(f64, Point)>>,
    /// Whether the state at `since` was written (everything before is left out).
    started: bool,
    /// Seconds between whole snapshots, if any, and the next one due.
    step: Option<f64>,
    next_step: f64,
}

/// The family of a sample name, and whether the sample is a histogram bucket.
fn family_of(name: &str) -> Option<(usize, bool)> {
    if let Some(i) = FAMILIES.iter().position(|f| f.name == name) {
        return Some((i, false));
    }
    for suffix in ["_bucket", "_sum", "_count"] {
        if let Some(base) = name.strip_suffix(suffix)
            && let Some(i) = FAMILIES
                .iter()
                .position(|f| f.name == base && f.kind == Kind::Histogram)
        {
            return Some((i, suffix == "_bucket"));
        }
    }
    None
}

/// The metric a sample line belongs to.
fn metric_of(series: &str) -> Option<MetricKey> {
    let (name, labels) = series.split_once('{').unwrap_or((series, "}"));
    let (family, bucket) = family_of(name)?;
    let labels = labels.strip_suffix('}').unwrap_or(labels);
    let labels = if bucket {
        // Our writer puts `le` last: `…,le="1"` or `le="1"` alone.
        match labels.rfind("le=\"") {
            Some(at) => labels[..at].trim_end_matches(',').to_owned(),
            None => labels.to_owned(),
        }
    } else {
        labels.to_owned()
    };
    Some((family, labels))
}

/// The activity families' sample lines of an exposition, by series.
fn samples(text: &str) -> HashMap<String, String> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.starts_with("platformsh_exporter_"))
        .filter_map(|l| l.rsplit_once(' '))
        .map(|(series, value)| (series.to_owned(), value.to_owned()))
        .collect()
}

impl Timeline {
    /// Takes the recorder's state at time `at`: every metric that changed gets a point (all of
    /// them, with `whole`).
    fn take(&mut self, recorder: &mut Recorder, at: f64, whole: bool) {
        let now = samples(recorder.exposition());
        let mut changed: HashMap<MetricKey, Point> = HashMap::new();
        let mut lines: HashMap<MetricKey, Point> = HashMap::new();
        for (series, value) in &now {
            let Some(metric) = metric_of(series) else {
                continue;
            };
            if whole || self.current.get(series) != Some(value) {
                changed.entry(metric.clone()).or_default();
            }
            lines
                .entry(metric)
                .or_default()
                .push((series.clone(), value.clone()));
        }
        for (metric, point) in &mut changed {
            *point = lines.remove(metric).unwrap_or_default();
        }
        for (metric, point) in changed {
            self.points.entry(metric).or_default().push((at, point));
        }
        self.current = now;
    }

    /// Before an activity at `at` is recorded: the state so far, at every step boundary up to
    /// `at` (and at the window's start).
    fn before(&mut self, recorder: &mut Recorder, at: f64) {
        if at < self.since {
            return;
        }
        if !self.started {
            // The state as it was when the window opens: metrics that do not change within it
            // are shown too.
            self.started = true;
            self.take(recorder, self.since, true);
        }
        if let Some(step) = self.step {
            while self.next_step < at {
                let boundary = self.next_step;
                self.take(recorder, boundary, true);
                self.next_step += step;
            }
        }
    }

    /// After an activity at `at` was recorded: what changed.
    fn after(&mut self, recorder: &mut Recorder, at: f64) {
        if at >= self.since {
            self.take(recorder, at, false);
        }
    }
}

/// Writes the history of the store at `path` since `since` before `now`, ending with the state
/// at `now` (what `/metrics` shows for the same store), to `out`.
pub fn write(
    path: &Path,
    settings: Settings,
    options: &Options,
    out: &mut impl Write,
) -> Result<Written, String> {
    let skew = settings.max_clock_skew;
    let mut recorder = Recorder::new(settings);
    let now = options.now.timestamp_micros() as f64 / 1e6;
    let since = now - options.since.as_secs_f64();
    let step = options.step.map(|s| s.as_secs_f64());
    let mut timeline = Timeline {
        since,
        current: HashMap::new(),
        points: HashMap::new(),
        started: false,
        step,
        // Steps fall on multiples of the step (as Grafana aligns its queries), from `since`.
        next_step: step.map_or(f64::INFINITY, |s| (since / s).ceil() * s),
    };
    let activities = crate::store::read_in_time_order(path, |activity, received_at| {
        let at =
            crate::record::shown_at(&activity, received_at, skew).timestamp_micros() as f64 / 1e6;
        timeline.before(&mut recorder, at);
        recorder.record(&activity, received_at);
        timeline.after(&mut recorder, at);
    })?;
    timeline.before(&mut recorder, now);
    // What a scrape now shows.
    crate::record::expire(&mut recorder, options.now);
    timeline.take(&mut recorder, now, true);

    let written = write_points(timeline.points, out).map_err(|e| format!("cannot write: {e}"))?;
    Ok(Written {
        activities,
        ..written
    })
}

/// Writes every metric's points, family by family, in OpenMetrics text, then `# EOF`.
fn write_points(
    points: HashMap<MetricKey, Vec<(f64, Point)>>,
    out: &mut impl Write,
) -> std::io::Result<Written> {
    let mut by_family: BTreeMap<usize, BTreeMap<String, Vec<(f64, Point)>>> = BTreeMap::new();
    for ((family, labels), points) in points {
        by_family.entry(family).or_default().insert(labels, points);
    }
    let mut written = Written {
        activities: 0,
        metrics: 0,
        samples: 0,
    };
    for (family, metrics) in by_family {
        let family: &Family = FAMILIES[family];
        let name = match family.kind {
            // An OpenMetrics counter family is named without `_total`; its samples keep it.
            Kind::Counter => family.name.trim_end_matches("_total"),
            Kind::Gauge | Kind::Histogram => family.name,
        };
        writeln!(out, "# HELP {name} {}", escape_help(family.help))?;
        writeln!(out, "# TYPE {name} {}", family.kind.as_str())?;
        for (_, mut points) in metrics {
            written.metrics += 1;
            points.sort_by(|a, b| a.0.total_cmp(&b.0));
            // One point per time: the last state at that time.
            let mut kept: Vec<(f64, Point)> = Vec::with_capacity(points.len());
            for (at, point) in points {
                match kept.last_mut() {
                    Some(last) if last.0.total_cmp(&at).is_eq() => last.1 = point,
                    _ => kept.push((at, point)),
                }
            }
            for (at, mut point) in kept {
                point.sort_by(|a, b| {
                    sample_order(&a.0)
                        .partial_cmp(&sample_order(&b.0))
                        .unwrap_or(std::cmp::Ordering::Equal)
                });
                for (series, value) in point {
                    writeln!(out, "{series} {value} {at}")?;
                    written.samples += 1;
                }
            }
        }
    }
    writeln!(out, "# EOF")?;
    Ok(written)
}

/// Buckets by bound, then `_count`, then `_sum`: the order of a histogram's lines.
fn sample_order(series: &str) -> (u8, f64) {
    let name = series.split('{').next().unwrap_or(series);
    if name.ends_with("_sum") {
        return (2, 0.0);
    }
    if name.ends_with("_count") {
        return (1, 0.0);
    }
    let le = series
        .rfind("le=\"")
        .map(|at| &series[at + 4..])
        .and_then(|rest| rest.split('"').next())
        .map_or(0.0, |le| match le {
            "+Inf" => f64::INFINITY,
            le => le.parse().unwrap_or(0.0),
        });
    (0, le)
}

/// OpenMetrics escapes `\`, newlines and `"` in HELP text.
fn escape_help(help: &str) -> String {
    help.replace('\\', "\\\\")
        .replace('\n', "\\n")
        .replace('"', "\\\"")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sample_lines_are_grouped_by_metric_without_le() {
        let (family, labels) = metric_of(
            "platformsh_activity_duration_seconds_bucket{environment_type=\"p\",project=\"x\",result=\"success\",type=\"t\",le=\"+Inf\"}",
        )
        .unwrap();
        assert_eq!(
            FAMILIES[family].name,
            "platformsh_activity_duration_seconds"
        );
        assert_eq!(
            labels,
            "environment_type=\"p\",project=\"x\",result=\"success\",type=\"t\""
        );
        let (family, _) = metric_of("platformsh_activities_total{project=\"x\"}").unwrap();
        assert_eq!(FAMILIES[family].name, "platformsh_activities_total");
        assert!(metric_of("unknown_metric 1").is_none());
    }

    #[test]
    fn a_histogram_s_lines_are_written_buckets_count_sum() {
        let mut lines = [
            "h_sum{a=\"1\"}",
            "h_bucket{a=\"1\",le=\"+Inf\"}",
            "h_count{a=\"1\"}",
            "h_bucket{a=\"1\",le=\"10\"}",
            "h_bucket{a=\"1\",le=\"2.5\"}",
        ];
        lines.sort_by(|a, b| sample_order(a).partial_cmp(&sample_order(b)).unwrap());
        assert_eq!(
            lines,
            [
                "h_bucket{a=\"1\",le=\"2.5\"}",
                "h_bucket{a=\"1\",le=\"10\"}",
                "h_bucket{a=\"1\",le=\"+Inf\"}",
                "h_count{a=\"1\"}",
                "h_sum{a=\"1\"}",
            ]
        );
    }
}
