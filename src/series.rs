//! Series storage for the families the recorder keeps: label sets written once into one
//! buffer, values beside them, walked front to back into a [`Sink`] of [`crate::exposition`].

use std::borrow::Cow;
use std::hash::BuildHasher;

use hashbrown::hash_table::Entry;
use hashbrown::{DefaultHashBuilder, HashTable};

use crate::catalogue::{
    ACTIVITIES, ACTIVITIES_UNFINISHED, ACTIVITY_DURATION, ACTIVITY_FAILURES, ACTIVITY_PHASE,
    ACTIVITY_WAIT, BACKFILLED, CHANGE_FAILURES, CHANGE_LEAD_TIME, COMMIT_LEAD_TIME, DELIVERED,
    DEPLOYMENT_RECOVERY, DEPLOYMENTS, Family, INCIDENT_RESTORE, INCIDENTS, INCIDENTS_OPEN,
    LABEL_OVERFLOW, LAST_ACTIVITY_TIMESTAMP, LAST_DEPLOYMENT_SUCCESS, LAST_DEPLOYMENT_TIMESTAMP,
    LAST_SUCCESSFUL_DEPLOYMENT_TIMESTAMP, OBSERVATIONS_SKIPPED, PUSH_COMMITS, RECONCILED, RESTARTS,
    UNORDERED_ACTIVITIES, UNSENT,
};
use crate::exposition::{Bucket, Sink};

/// Declares a struct of families, each a [`Series`] of one catalogue family, and the walk
/// over them in the order declared: the one list of a struct's families.
macro_rules! families {
    ($(#[$meta:meta])* $name:ident { $($field:ident: $value:ty = $family:ident,)* }) => {
        $(#[$meta])*
        #[derive(Debug, Clone)]
        pub struct $name {
            $(pub $field: Series<$value>,)*
        }

        impl $name {
            pub fn new() -> Self {
                Self {
                    $($field: Series::new(&$family),)*
                }
            }

            /// Walks every family that has a series, in the order declared.
            pub fn walk(&self, sink: &mut impl Sink) {
                $(self.$field.walk(sink);)*
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }
    };
}

families! {
    /// The activity families, written only by the recorder.
    ActivityFamilies {
        activities: f64 = ACTIVITIES,
        activity_failures: f64 = ACTIVITY_FAILURES,
        activity_duration: Histogram = ACTIVITY_DURATION,
        activity_wait: Histogram = ACTIVITY_WAIT,
        activity_phase: Histogram = ACTIVITY_PHASE,
        push_commits: Histogram = PUSH_COMMITS,
        deployments: f64 = DEPLOYMENTS,
        restarts: f64 = RESTARTS,
        last_deployment_timestamp: f64 = LAST_DEPLOYMENT_TIMESTAMP,
        last_deployment_success: f64 = LAST_DEPLOYMENT_SUCCESS,
        last_successful_deployment_timestamp: f64 = LAST_SUCCESSFUL_DEPLOYMENT_TIMESTAMP,
        deployment_recovery: Histogram = DEPLOYMENT_RECOVERY,
        incidents: f64 = INCIDENTS,
        incidents_open: f64 = INCIDENTS_OPEN,
        change_failures: f64 = CHANGE_FAILURES,
        incident_restore: Histogram = INCIDENT_RESTORE,
        change_lead_time: Histogram = CHANGE_LEAD_TIME,
        commit_lead_time: Histogram = COMMIT_LEAD_TIME,
        activities_unfinished: f64 = ACTIVITIES_UNFINISHED,
        last_activity_timestamp: f64 = LAST_ACTIVITY_TIMESTAMP,
    }
}

families! {
    /// The exporter's own counters that replay rebuilds with the activities: kept by the
    /// recorder beside the activity families, written after them.
    RecorderFamilies {
        label_overflow: f64 = LABEL_OVERFLOW,
        delivered: f64 = DELIVERED,
        reconciled: f64 = RECONCILED,
        unsent: f64 = UNSENT,
        backfilled: f64 = BACKFILLED,
        observations_skipped: f64 = OBSERVATIONS_SKIPPED,
        unordered: f64 = UNORDERED_ACTIVITIES,
    }
}

impl ActivityFamilies {
    /// Removes the series of every family with an `environment` label whose label set
    /// `carries_one` of the environments that go; returns how many.
    pub fn remove_environments(
        &mut self,
        carries_one: impl Fn(LabelSet<'_>) -> bool + Copy,
    ) -> usize {
        self.activities.remove_where(carries_one)
            + self.activity_failures.remove_where(carries_one)
            + self.deployments.remove_where(carries_one)
            + self.restarts.remove_where(carries_one)
            + self.last_deployment_timestamp.remove_where(carries_one)
            + self.last_deployment_success.remove_where(carries_one)
            + self
                .last_successful_deployment_timestamp
                .remove_where(carries_one)
            + self.activities_unfinished.remove_where(carries_one)
            + self.incidents.remove_where(carries_one)
            + self.incidents_open.remove_where(carries_one)
            + self.change_failures.remove_where(carries_one)
    }
}

/// The series of one family, by label set.
///
/// The activity families keep their own series instead of the `prometheus` crate's vectors:
/// the crate's `gather` builds a protobuf message per series and sorts them at every scrape,
/// which took 1.6 µs per series at 100 000 series and grew faster than the series count
/// (BENCHMARKS.md). Here every label set is written once, when its series appears, into one
/// buffer, and the values sit in one vector in the same order: a scrape reads both front to
/// back and writes text, at the same cost per series whatever their number. Series are
/// written in the order they appeared (the text format does not ask for any order). The
/// recorder is the only writer and already holds a lock, so the values need no atomics.
#[derive(Debug, Clone)]
pub struct Series<V> {
    family: &'static Family,
    /// Positions of the family's labels sorted by name: label pairs are written in that
    /// order, as the `prometheus` crate writes them.
    order: Vec<usize>,
    /// Every label set as written between the braces (`a="x",b="y"`, escaped), one after
    /// another.
    labels: String,
    /// Where each label set ends in `labels`, and its value, in the same order.
    values: Vec<(usize, V)>,
    /// Positions in `values`, found by the label set's text.
    index: HashTable<usize>,
    hasher: DefaultHashBuilder,
    /// Where a label set is written to be looked up: no allocation per lookup.
    key: String,
}

impl<V> Series<V> {
    pub fn new(family: &'static Family) -> Self {
        let mut order: Vec<usize> = (0..family.labels.len()).collect();
        order.sort_by_key(|&i| family.labels[i]);
        Self {
            family,
            order,
            labels: String::new(),
            values: Vec::new(),
            index: HashTable::new(),
            hasher: DefaultHashBuilder::default(),
            key: String::new(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// Each series' label set and value, in the order they appeared.
    fn iter(&self) -> impl Iterator<Item = (&str, &V)> {
        let mut start = 0;
        self.values.iter().map(move |(end, value)| {
            let labels = &self.labels[start..*end];
            start = *end;
            (labels, value)
        })
    }

    /// The value of the label set `values` (in the family's label order), created by `new`
    /// the first time.
    fn entry(&mut self, values: &[&str], new: impl FnOnce() -> V) -> &mut V {
        let i = self.position(values, new);
        &mut self.values[i].1
    }

    /// The value at `position`, as [`Series::position`] gave it.
    pub fn at(&mut self, position: usize) -> &mut V {
        &mut self.values[position].1
    }

    /// Where the series of the label set `values` (in the family's label order) is, created
    /// with the value `new` gives the first time. Positions stay valid until
    /// [`Series::remove_where`] removes a series.
    pub fn position(&mut self, values: &[&str], new: impl FnOnce() -> V) -> usize {
        assert_eq!(
            values.len(),
            self.order.len(),
            "{}: one value per label",
            self.family.name
        );
        self.key.clear();
        for (n, &i) in self.order.iter().enumerate() {
            if n > 0 {
                self.key.push(',');
            }
            self.key.push_str(self.family.labels[i]);
            self.key.push_str("=\"");
            crate::exposition::escape(values[i], true, &mut self.key);
            self.key.push('"');
        }
        let (labels, ends, hasher) = (&self.labels, &self.values, &self.hasher);
        let label_set = |i: usize| label_set_at(labels, ends, i);
        let hash = hasher.hash_one(self.key.as_str());
        let found = self.index.entry(
            hash,
            |&i| label_set(i) == self.key,
            |&i| hasher.hash_one(label_set(i)),
        );
        match found {
            Entry::Occupied(occupied) => *occupied.get(),
            Entry::Vacant(vacant) => {
                let i = self.values.len();
                vacant.insert(i);
                self.labels.push_str(&self.key);
                self.values.push((self.labels.len(), new()));
                i
            }
        }
    }
}

impl<V> Series<V> {
    /// Removes every series whose label set `remove` picks, and says how many went. The others
    /// keep their order but most move: every position given before is stale once this returns
    /// a number above zero. The buffer is written anew, so the memory of removed label sets is
    /// given back (environments come and go for good).
    pub fn remove_where(&mut self, mut remove: impl FnMut(LabelSet<'_>) -> bool) -> usize {
        let labels = std::mem::take(&mut self.labels);
        let values = std::mem::take(&mut self.values);
        let before = values.len();
        let mut start = 0;
        for (end, value) in values {
            let set = &labels[start..end];
            start = end;
            if !remove(LabelSet(set)) {
                self.labels.push_str(set);
                self.values.push((self.labels.len(), value));
            }
        }
        let removed = before - self.values.len();
        if removed == 0 {
            return 0;
        }
        self.labels.shrink_to_fit();
        self.values.shrink_to_fit();
        let (labels, ends, hasher) = (&self.labels, &self.values, &self.hasher);
        let label_set = |i: usize| label_set_at(labels, ends, i);
        self.index.clear();
        self.index.shrink_to_fit(|&i| hasher.hash_one(label_set(i)));
        for i in 0..ends.len() {
            let hash = hasher.hash_one(label_set(i));
            self.index
                .insert_unique(hash, i, |&j| hasher.hash_one(label_set(j)));
        }
        removed
    }
}

/// The label set of the `i`-th series, out of the buffer and the ends of its sets.
fn label_set_at<'a, V>(labels: &'a str, ends: &[(usize, V)], i: usize) -> &'a str {
    let start = if i == 0 { 0 } else { ends[i - 1].0 };
    &labels[start..ends[i].0]
}

/// One label set as [`Series`] writes it: `name="value"` pairs, escaped, comma-separated.
#[derive(Debug, Clone, Copy)]
pub struct LabelSet<'a>(&'a str);

impl<'a> LabelSet<'a> {
    /// The value of the label `name`, unescaped.
    pub fn value(self, name: &str) -> Option<Cow<'a, str>> {
        self.pairs()
            .find(|(n, _)| *n == name)
            .map(|(_, escaped)| unescape(escaped))
    }

    /// Each pair's name and escaped value: a quote inside a value is escaped, so the first
    /// unescaped quote ends the value.
    fn pairs(self) -> impl Iterator<Item = (&'a str, &'a str)> {
        let set = self.0;
        let bytes = set.as_bytes();
        let mut start = 0;
        std::iter::from_fn(move || {
            let equals = start + set.get(start..)?.find("=\"")?;
            let mut i = equals + 2;
            while i < bytes.len() && bytes[i] != b'"' {
                i += if bytes[i] == b'\\' { 2 } else { 1 };
            }
            let pair = (&set[start..equals], set.get(equals + 2..i)?);
            start = i + 2; // past the quote and the comma
            Some(pair)
        })
    }
}

/// Undoes [`crate::exposition::escape`].
fn unescape(escaped: &str) -> Cow<'_, str> {
    if !escaped.contains('\\') {
        return Cow::Borrowed(escaped);
    }
    let mut out = String::with_capacity(escaped.len());
    let mut chars = escaped.chars();
    while let Some(c) = chars.next() {
        match (c, c == '\\') {
            (_, true) => match chars.next() {
                Some('n') => out.push('\n'),
                Some(other) => out.push(other),
                None => {}
            },
            (c, false) => out.push(c),
        }
    }
    Cow::Owned(out)
}

impl Series<f64> {
    /// Adds `v` to the counter or gauge of `values`.
    pub fn add(&mut self, values: &[&str], v: f64) {
        *self.entry(values, || 0.0) += v;
    }

    pub fn inc(&mut self, values: &[&str]) {
        self.add(values, 1.0);
    }

    /// Raises the gauge of `values` to `v` if `v` is greater (a new gauge takes `v`).
    pub fn set_max(&mut self, values: &[&str], v: f64) {
        let gauge = self.entry(values, || v);
        *gauge = gauge.max(v);
    }

    /// Walks the family into `sink`, if it has a series.
    pub fn walk(&self, sink: &mut impl Sink) {
        if self.is_empty() {
            return;
        }
        let family = self.family;
        sink.family(family.name, family.help, family.kind);
        for (labels, &v) in self.iter() {
            sink.number(family.name, labels, v);
        }
    }
}

impl Series<Histogram> {
    pub fn observe(&mut self, values: &[&str], v: f64) {
        let position = self.position(values, Histogram::default);
        self.observe_at(position, v);
    }

    /// Observes `v` in the series at `position`, as [`Series::position`] gave it.
    pub fn observe_at(&mut self, position: usize, v: f64) {
        let bounds = self.family.buckets;
        self.at(position).observe(bounds, v);
    }

    /// Observes `v` as [`Series::observe_at`] does, and keeps `exemplar` as the latest of its
    /// bucket.
    pub fn observe_at_with(&mut self, position: usize, v: f64, exemplar: Exemplar) {
        let bounds = self.family.buckets;
        let histogram = self.at(position);
        let bucket = histogram.observe(bounds, v);
        if exemplar_id_is_plain(&exemplar.id) {
            histogram.exemplars.get_or_insert_with(Box::default)[bucket] = Some(exemplar);
        }
    }

    /// Walks the family into `sink`, if it has a series: each series' buckets with their
    /// exemplars, `+Inf` last.
    pub fn walk(&self, sink: &mut impl Sink) {
        if self.is_empty() {
            return;
        }
        let family = self.family;
        sink.family(family.name, family.help, family.kind);
        // The bounds as text, once per family rather than once per series.
        let bounds: Vec<String> = family
            .buckets
            .iter()
            .map(|&b| crate::exposition::le(b))
            .collect();
        let finite = family.buckets.len();
        for (labels, h) in self.iter() {
            let exemplars = h.exemplars.as_deref();
            let mut cumulative = 0;
            let buckets = (0..=finite).map(|i| {
                let (le, count) = match bounds.get(i) {
                    Some(le) => {
                        cumulative += h.counts[i];
                        (le.as_str(), cumulative)
                    }
                    None => ("+Inf", h.count),
                };
                let exemplar =
                    exemplars
                        .and_then(|e| e[i].as_ref())
                        .map(|e| crate::exposition::Exemplar {
                            id: &e.id,
                            value: e.value,
                            at: e.at,
                        });
                Bucket {
                    le,
                    cumulative: count,
                    exemplar,
                }
            });
            sink.histogram(family.name, labels, buckets, h.sum, h.count);
        }
    }
}

/// The most buckets a histogram family has; the counts are kept inline, so that a scrape
/// reads each series' values without following a pointer.
pub const MAX_BUCKETS: usize = 14;

/// One histogram series: a count per bucket (not cumulative), the sum and the count, and for
/// the families that keep them, the latest exemplar of each bucket.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Histogram {
    counts: [u64; MAX_BUCKETS],
    sum: f64,
    count: u64,
    /// One slot per bucket and one for `+Inf`; allocated at the first exemplar only.
    exemplars: Option<Box<[Option<Exemplar>; MAX_BUCKETS + 1]>>,
}

/// The observation behind a bucket, for OpenMetrics: which activity, its value and when.
#[derive(Debug, Clone, PartialEq)]
pub struct Exemplar {
    /// The activity id (OpenMetrics allows 128 characters of exemplar labels in all: longer
    /// ids are not kept).
    pub id: Box<str>,
    pub value: f64,
    /// Seconds since the epoch.
    pub at: f64,
}

/// Whether an activity id can stand in an exemplar: within OpenMetrics' length, and printable
/// ASCII with nothing to escape. An id with `"` or `\\` is escaped per the specification, but
/// some strict parsers then reject the whole scrape: such an id loses its exemplar, never the
/// scrape.
fn exemplar_id_is_plain(id: &str) -> bool {
    id.len() <= MAX_EXEMPLAR_ID
        && id
            .bytes()
            .all(|b| b.is_ascii_graphic() && b != b'"' && b != b'\\')
}

/// Longest activity id kept in an exemplar: `activity_id` and the id within 128 characters.
const MAX_EXEMPLAR_ID: usize = 128 - "activity_id".len();

impl Histogram {
    /// Counts `v` in the first bucket whose upper bound is at least `v`, as the `prometheus`
    /// crate does; past the last bound it is counted only in `+Inf` (the count).
    fn observe(&mut self, bounds: &[f64], v: f64) -> usize {
        let bucket = bounds.iter().position(|&bound| v <= bound);
        if let Some(i) = bucket {
            self.counts[i] += 1;
        }
        self.sum += v;
        self.count += 1;
        bucket.unwrap_or(bounds.len())
    }
}

#[cfg(test)]
mod tests {
    use prometheus::{IntCounterVec, Opts, Registry};

    use super::*;
    use crate::catalogue::{FAMILIES, Kind};
    use crate::exposition::openmetrics::OpenMetrics;
    use crate::exposition::text::Text;

    /// The text the `prometheus` crate writes for the same updates made to its own vectors.
    #[test]
    fn series_are_written_as_the_prometheus_crate_writes_its_vectors() {
        use prometheus::{GaugeVec, HistogramOpts, HistogramVec};
        let registry = Registry::new();
        let counter = IntCounterVec::new(
            Opts::new(DEPLOYMENTS.name, DEPLOYMENTS.help),
            DEPLOYMENTS.labels,
        )
        .unwrap();
        registry.register(Box::new(counter.clone())).unwrap();
        let histogram = HistogramVec::new(
            HistogramOpts::new(ACTIVITY_DURATION.name, ACTIVITY_DURATION.help)
                .buckets(ACTIVITY_DURATION.buckets.to_vec()),
            ACTIVITY_DURATION.labels,
        )
        .unwrap();
        registry.register(Box::new(histogram.clone())).unwrap();
        let gauge = GaugeVec::new(
            Opts::new(LAST_ACTIVITY_TIMESTAMP.name, LAST_ACTIVITY_TIMESTAMP.help),
            LAST_ACTIVITY_TIMESTAMP.labels,
        )
        .unwrap();
        registry.register(Box::new(gauge.clone())).unwrap();

        let mut deployments = Series::new(&DEPLOYMENTS);
        let mut duration = Series::new(&ACTIVITY_DURATION);
        let mut last = Series::new(&LAST_ACTIVITY_TIMESTAMP);
        // Ours are written in the order they appeared, the crate's sorted by label values:
        // here both orders are the same.
        for (values, n) in [
            (["q\"uote", "back\\slash\nnl", "", "success"], 2),
            (["p", "main", "production", "failure"], 1),
            (["p", "main", "production", "success"], 3),
        ] {
            counter.with_label_values(&values).inc_by(n);
            deployments.add(&values, n as f64);
        }
        for (values, v) in [
            (
                ["p", "production", "environment.push", "success"],
                0.126_238,
            ),
            (["p", "production", "environment.push", "success"], 1.0),
            (["p", "production", "environment.push", "success"], 1e9),
            (["r", "staging", "environment.cron", "failure"], 3600.0),
        ] {
            histogram.with_label_values(&values).observe(v);
            duration.observe(&values, v);
        }
        for (values, v) in [(["p"], 1_512_643_659.369_741), (["r"], 1_600_000_000.0)] {
            gauge.with_label_values(&values).set(v);
            last.set_max(&values, v);
        }

        let mut expected = String::new();
        prometheus::TextEncoder::new()
            .encode_utf8(&registry.gather(), &mut expected)
            .unwrap();
        // The crate writes families sorted by name.
        let mut ours = String::new();
        let mut sink = Text::new(&mut ours);
        duration.walk(&mut sink);
        deployments.walk(&mut sink);
        last.walk(&mut sink);
        assert_eq!(ours, expected);
    }

    #[test]
    fn a_family_without_series_writes_nothing() {
        let mut out = String::new();
        ActivityFamilies::new().walk(&mut Text::new(&mut out));
        assert_eq!(out, "");
    }

    #[test]
    fn removed_series_are_gone_and_the_others_still_found() {
        let mut deployments = Series::new(&DEPLOYMENTS);
        let sets = [
            ["p", "gone", "development", "success"],
            ["p", "kept", "development", "success"],
            ["p", "gone", "development", "failure"],
            // Look-alikes: the same value under another label, or inside an escaped value.
            ["gone", "p", "development", "success"],
            ["p", "gone\",environment=\"gone", "development", "success"],
            ["q", "gone", "development", "success"],
        ];
        for (n, values) in sets.iter().enumerate() {
            deployments.add(values, n as f64 + 1.0);
        }
        let gone = |set: LabelSet<'_>| {
            set.value("project").as_deref() == Some("p")
                && set.value("environment").as_deref() == Some("gone")
        };
        assert_eq!(deployments.remove_where(gone), 2);
        assert_eq!(deployments.remove_where(gone), 0);
        let left: Vec<f64> = deployments.iter().map(|(_, &v)| v).collect();
        assert_eq!(left, [2.0, 4.0, 5.0, 6.0]);
        // The index was rebuilt: known sets are found where they now are, new ones appended.
        for values in &sets {
            deployments.add(values, 10.0);
        }
        let left: Vec<f64> = deployments.iter().map(|(_, &v)| v).collect();
        assert_eq!(left, [12.0, 14.0, 15.0, 16.0, 10.0, 10.0]);
        let mut out = String::new();
        deployments.walk(&mut Text::new(&mut out));
        assert_eq!(out.matches("environment=\"gone\"").count(), 3, "{out}");
    }

    #[test]
    fn label_values_are_read_back_unescaped() {
        let set = LabelSet(r#"a="x\\",b="y\",c=\"z",c="w\n""#);
        assert_eq!(set.value("a").as_deref(), Some("x\\"));
        assert_eq!(set.value("b").as_deref(), Some("y\",c=\"z"));
        assert_eq!(set.value("c").as_deref(), Some("w\n"));
        assert_eq!(set.value("d"), None);
        assert_eq!(LabelSet("").value("a"), None);
    }

    #[test]
    fn set_max_keeps_the_greatest_value() {
        let mut last = Series::new(&LAST_ACTIVITY_TIMESTAMP);
        last.set_max(&["p"], 5.0);
        last.set_max(&["p"], 3.0);
        assert_eq!(last.iter().collect::<Vec<_>>(), [("project=\"p\"", &5.0)]);
        last.set_max(&["p"], 7.0);
        assert_eq!(last.iter().collect::<Vec<_>>(), [("project=\"p\"", &7.0)]);
    }

    #[test]
    fn histogram_buckets_are_strictly_increasing_and_fit_inline() {
        for family in FAMILIES.iter().filter(|f| f.kind == Kind::Histogram) {
            assert!(!family.buckets.is_empty(), "{}", family.name);
            assert!(family.buckets.len() <= MAX_BUCKETS, "{}", family.name);
            assert!(
                family.buckets.windows(2).all(|w| w[0] < w[1]),
                "{}",
                family.name
            );
        }
    }

    #[test]
    fn an_id_a_strict_parser_cannot_read_loses_its_exemplar() {
        let mut series = Series::<Histogram>::new(&crate::catalogue::ACTIVITY_DURATION);
        let values = ["p", "production", "environment.push", "success"];
        let position = series.position(&values, Histogram::default);
        for id in ["plain-id", "quote\"d", "back\\slash", "new\nline"] {
            let exemplar = Exemplar {
                id: id.into(),
                value: 1.0,
                at: 2.0,
            };
            series.observe_at_with(position, 1.0, exemplar);
        }
        let mut out = String::new();
        series.walk(&mut OpenMetrics::new(&mut out));
        let exemplars: Vec<&str> = out.lines().filter(|l| l.contains(" # {")).collect();
        assert_eq!(exemplars.len(), 1, "{out}");
        assert!(exemplars[0].contains("activity_id=\"plain-id\""), "{out}");
    }
}
