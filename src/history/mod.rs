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
use crate::exposition::{Bucket, Sink};

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

/// One metric: its family (its place in [`FAMILIES`]) and its label set without `le`.
type MetricKey = (usize, String);

/// A metric's sample lines at one time, as the text format writes them without a timestamp:
/// a histogram's buckets by bound, then `_count`, then `_sum`.
type Point = Vec<String>;

/// The state of every activity family's metrics, and the points kept so far.
struct Timeline {
    since: f64,
    /// Every metric's lines at the last time taken.
    current: HashMap<MetricKey, Point>,
    points: HashMap<MetricKey, Vec<(f64, Point)>>,
    /// Whether the state at `since` was written (everything before is left out).
    started: bool,
    /// Seconds between whole snapshots, if any, and the next one due.
    step: Option<f64>,
    next_step: f64,
}

/// The sink `history` walks the recorder into: each metric's lines, by metric.
#[derive(Default)]
struct Metrics {
    family: usize,
    lines: HashMap<MetricKey, Point>,
}

/// One sample line without its newline.
fn line(name: &str, suffix: &str, labels: &str, le: Option<&str>, value: f64) -> String {
    let mut line = String::new();
    crate::exposition::text::sample(&mut line, name, suffix, labels, le, value);
    line.pop();
    line
}

impl Sink for Metrics {
    fn family(&mut self, name: &str, _: &str, _: Kind) {
        self.family = FAMILIES
            .iter()
            .position(|f| f.name == name)
            .expect("every activity family is in the catalogue");
    }

    fn number(&mut self, name: &str, labels: &str, value: f64) {
        let point = vec![line(name, "", labels, None, value)];
        self.lines.insert((self.family, labels.to_owned()), point);
    }

    fn histogram<'b>(
        &mut self,
        name: &str,
        labels: &str,
        buckets: impl Iterator<Item = Bucket<'b>>,
        sum: f64,
        count: u64,
    ) {
        let mut point: Point = buckets
            .map(|b| line(name, "_bucket", labels, Some(b.le), b.cumulative as f64))
            .collect();
        point.push(line(name, "_count", labels, None, count as f64));
        point.push(line(name, "_sum", labels, None, sum));
        self.lines.insert((self.family, labels.to_owned()), point);
    }
}

impl Timeline {
    /// Takes the recorder's state at time `at`: every metric that changed gets a point (all of
    /// them, with `whole`).
    fn take(&mut self, recorder: &Recorder, at: f64, whole: bool) {
        let mut now = Metrics::default();
        recorder.walk_activity_families(&mut now);
        for (metric, point) in &now.lines {
            if whole || self.current.get(metric) != Some(point) {
                let points = self.points.entry(metric.clone()).or_default();
                points.push((at, point.clone()));
            }
        }
        self.current = now.lines;
    }

    /// Before an activity at `at` is recorded: the state so far, at every step boundary up to
    /// `at` (and at the window's start).
    fn before(&mut self, recorder: &Recorder, at: f64) {
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
    fn after(&mut self, recorder: &Recorder, at: f64) {
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
        timeline.before(&recorder, at);
        recorder.record(&activity, received_at);
        timeline.after(&recorder, at);
    })?;
    timeline.before(&recorder, now);
    // What a scrape now shows.
    crate::record::expire(&mut recorder, options.now);
    timeline.take(&recorder, now, true);

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
        let mut header = String::new();
        crate::exposition::openmetrics::family_header(
            family.name,
            family.help,
            family.kind,
            &mut header,
        );
        out.write_all(header.as_bytes())?;
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
            for (at, point) in kept {
                for line in point {
                    writeln!(out, "{line} {at}")?;
                    written.samples += 1;
                }
            }
        }
    }
    writeln!(out, "# EOF")?;
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalogue::{ACTIVITIES, ACTIVITY_WAIT};
    use crate::series::{Histogram, Series};

    #[test]
    fn a_metric_is_its_family_and_labels_and_a_histogram_writes_buckets_count_sum() {
        let mut wait = Series::<Histogram>::new(&ACTIVITY_WAIT);
        wait.observe(&["x", "production", "environment.push"], 0.3);
        let mut activities = Series::<f64>::new(&ACTIVITIES);
        activities.inc(&["x", "main", "production", "environment.push", "success"]);
        let mut metrics = Metrics::default();
        wait.walk(&mut metrics);
        activities.walk(&mut metrics);

        let labels = "environment_type=\"production\",project=\"x\",type=\"environment.push\"";
        let wait_family = FAMILIES.iter().position(|f| f.name == ACTIVITY_WAIT.name);
        let point = &metrics.lines[&(wait_family.unwrap(), labels.to_owned())];
        let name = ACTIVITY_WAIT.name;
        assert_eq!(point.len(), ACTIVITY_WAIT.buckets.len() + 3);
        assert_eq!(point[0], format!("{name}_bucket{{{labels},le=\"0.1\"}} 0"));
        assert_eq!(point[1], format!("{name}_bucket{{{labels},le=\"0.5\"}} 1"));
        let [.., inf, count, sum] = point.as_slice() else {
            unreachable!()
        };
        assert_eq!(inf, &format!("{name}_bucket{{{labels},le=\"+Inf\"}} 1"));
        assert_eq!(count, &format!("{name}_count{{{labels}}} 1"));
        assert_eq!(sum, &format!("{name}_sum{{{labels}}} 0.3"));

        let family = FAMILIES.iter().position(|f| f.name == ACTIVITIES.name);
        let (key, point) = metrics
            .lines
            .iter()
            .find(|((f, _), _)| Some(*f) == family)
            .unwrap();
        assert!(key.1.starts_with("environment=\"main\""), "{key:?}");
        assert_eq!(point.len(), 1);
        assert!(point[0].ends_with("} 1"), "{point:?}");
    }
}
