//! The one way out of the exporter: every family is walked once, series by series, into a
//! [`Sink`], and the sinks write the formats. The Prometheus text format ([`text`]), OpenMetrics
//! ([`openmetrics`], with exemplars) and `history`'s timeline (`crate::history`) are three sinks
//! of the same walk, so a family is declared once and no format is made by parsing another.
//!
//! The shape is `prometheus/client_rust`'s encoder (`encoding.rs`: a family walked into an
//! encoder per format) and ripgrep's `grep-searcher` `Sink` (the producer calls, the sink
//! decides what to keep).

pub mod openmetrics;
mod sink;
pub mod text;

use prometheus::proto::{Bucket as GatheredBucket, MetricFamily, MetricType};

pub use crate::catalogue::Kind;
pub use sink::{Bucket, Exemplar, Sink};
pub use text::{escape, number};

/// A source of families, walked into any sink: the recorder's, the process's own. The
/// `/metrics` handler joins sources without knowing their insides (as linkerd2-proxy's
/// `FmtMetrics`).
pub trait Families {
    fn walk(&self, sink: &mut impl Sink);
}

/// The formats `/metrics` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// The Prometheus text format, 0.0.4.
    Text,
    /// OpenMetrics 1.0, without the final `# EOF` (written once after every source).
    OpenMetrics,
}

/// Appends `families` to `out` in `format`.
pub fn write(families: &impl Families, format: Format, out: &mut String) {
    match format {
        Format::Text => families.walk(&mut text::Text::new(out)),
        Format::OpenMetrics => families.walk(&mut openmetrics::OpenMetrics::new(out)),
    }
}

/// Walks the `prometheus` crate's gathered families (the process's own instruments).
pub fn walk_gathered(families: &[MetricFamily], sink: &mut impl Sink) {
    let mut labels = String::new();
    for family in families {
        let name = family.name();
        let kind = match family.get_field_type() {
            MetricType::COUNTER => Kind::Counter,
            MetricType::GAUGE => Kind::Gauge,
            MetricType::HISTOGRAM => Kind::Histogram,
            // The exporter defines no summaries or untyped metrics.
            MetricType::SUMMARY | MetricType::UNTYPED => continue,
        };
        sink.family(name, family.help(), kind);
        for metric in family.get_metric() {
            labels.clear();
            for (i, pair) in metric.get_label().iter().enumerate() {
                if i > 0 {
                    labels.push(',');
                }
                labels.push_str(pair.name());
                labels.push_str("=\"");
                escape(pair.value(), true, &mut labels);
                labels.push('"');
            }
            match kind {
                Kind::Counter => sink.number(name, &labels, metric.get_counter().value()),
                Kind::Gauge => sink.number(name, &labels, metric.get_gauge().value()),
                Kind::Histogram => {
                    let h = metric.get_histogram();
                    let bounds: Vec<String> =
                        h.get_bucket().iter().map(|b| le(b.upper_bound())).collect();
                    let counts = h.get_bucket().iter().map(GatheredBucket::cumulative_count);
                    let count = h.get_sample_count();
                    let buckets = bounds
                        .iter()
                        .map(String::as_str)
                        .zip(counts)
                        .chain([("+Inf", count)])
                        .map(|(le, cumulative)| Bucket {
                            le,
                            cumulative,
                            exemplar: None,
                        });
                    sink.histogram(name, &labels, buckets, h.get_sample_sum(), count);
                }
            }
        }
    }
}

/// A bucket's upper bound as its `le` label value.
pub fn le(bound: f64) -> String {
    let mut le = String::new();
    number(bound, &mut le);
    le
}
