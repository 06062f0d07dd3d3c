//! OpenMetrics 1.0 text, as a [`Sink`]. Everything this exporter writes is the same as in the
//! text format (gauges, histograms with `le`, escaping, numbers) but for three things: a
//! counter family is named without its `_total` (its samples keep it), HELP escapes `"`, and a
//! bucket may carry its exemplar. The exposition ends with `# EOF`, which the `/metrics`
//! handler adds once after every source.

use super::sink::{Bucket, Sink};
use super::text::{header, histogram, sample};
use crate::catalogue::Kind;

/// Writes the families walked into it in OpenMetrics, exemplars included.
#[derive(Debug)]
pub struct OpenMetrics<'a> {
    out: &'a mut String,
}

impl<'a> OpenMetrics<'a> {
    pub fn new(out: &'a mut String) -> Self {
        Self { out }
    }
}

/// The name of a family in its OpenMetrics header.
pub fn family_name(name: &str, kind: Kind) -> &str {
    match kind {
        Kind::Counter => name.strip_suffix("_total").unwrap_or(name),
        Kind::Gauge | Kind::Histogram => name,
    }
}

/// A family's `# HELP` and `# TYPE` lines.
pub fn family_header(name: &str, help: &str, kind: Kind, out: &mut String) {
    header(family_name(name, kind), help, kind.as_str(), true, out);
}

impl Sink for OpenMetrics<'_> {
    fn family(&mut self, name: &str, help: &str, kind: Kind) {
        family_header(name, help, kind, self.out);
    }

    fn number(&mut self, name: &str, labels: &str, value: f64) {
        sample(self.out, name, "", labels, None, value);
    }

    fn histogram<'b>(
        &mut self,
        name: &str,
        labels: &str,
        buckets: impl Iterator<Item = Bucket<'b>>,
        sum: f64,
        count: u64,
    ) {
        histogram(self.out, (name, labels), buckets, (sum, count), true);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counter_families_are_named_without_total_and_help_escapes_quotes() {
        let mut out = String::new();
        let mut sink = OpenMetrics::new(&mut out);
        sink.family("a_total", "Things \"quoted\".", Kind::Counter);
        sink.number("a_total", "x=\"1\"", 2.0);
        sink.family("g", "A gauge.", Kind::Gauge);
        sink.number("g", "", 1.0);
        assert_eq!(
            out,
            "# HELP a Things \\\"quoted\\\".\n# TYPE a counter\na_total{x=\"1\"} 2\n\
             # HELP g A gauge.\n# TYPE g gauge\ng 1\n"
        );
    }

    #[test]
    fn a_bucket_carries_its_exemplar() {
        let mut out = String::new();
        let exemplar = crate::exposition::Exemplar {
            id: "a-1",
            value: 1.5,
            at: 10.25,
        };
        let buckets = [
            Bucket {
                le: "1",
                cumulative: 0,
                exemplar: None,
            },
            Bucket {
                le: "+Inf",
                cumulative: 1,
                exemplar: Some(exemplar),
            },
        ];
        OpenMetrics::new(&mut out).histogram("h", "p=\"x\"", buckets.into_iter(), 1.5, 1);
        assert_eq!(
            out,
            "h_bucket{p=\"x\",le=\"1\"} 0\n\
             h_bucket{p=\"x\",le=\"+Inf\"} 1 # {activity_id=\"a-1\"} 1.5 10.25\n\
             h_sum{p=\"x\"} 1.5\nh_count{p=\"x\"} 1\n"
        );
    }
}
