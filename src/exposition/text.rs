//! The Prometheus text exposition format (0.0.4), as a [`Sink`]: writes what
//! `prometheus::TextEncoder` writes, faster. It gets each series' label set once, not once
//! per histogram bucket, and formats numbers without an allocation each.

use std::fmt::Write;

use super::sink::{Bucket, Sink};
use crate::catalogue::Kind;

/// Writes the families walked into it in the text format.
#[derive(Debug)]
pub struct Text<'a> {
    out: &'a mut String,
}

impl<'a> Text<'a> {
    pub fn new(out: &'a mut String) -> Self {
        Self { out }
    }
}

impl Sink for Text<'_> {
    fn family(&mut self, name: &str, help: &str, kind: Kind) {
        header(name, help, kind.as_str(), false, self.out);
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
        histogram(self.out, (name, labels), buckets, (sum, count), false);
    }
}

/// The lines of one histogram series: a `_bucket` per bucket (with its exemplar after it, with
/// `exemplars`, as OpenMetrics writes it), then `_sum` and `_count`.
pub fn histogram<'b>(
    out: &mut String,
    (name, labels): (&str, &str),
    buckets: impl Iterator<Item = Bucket<'b>>,
    (sum, count): (f64, u64),
    exemplars: bool,
) {
    for bucket in buckets {
        let cumulative = bucket.cumulative as f64;
        sample(out, name, "_bucket", labels, Some(bucket.le), cumulative);
        if let Some(e) = bucket.exemplar.filter(|_| exemplars) {
            out.pop(); // the newline
            out.push_str(" # {activity_id=\"");
            escape(e.id, true, out);
            out.push_str("\"} ");
            number(e.value, out);
            out.push(' ');
            number(e.at, out);
            out.push('\n');
        }
    }
    sample(out, name, "_sum", labels, None, sum);
    sample(out, name, "_count", labels, None, count as f64);
}

/// The `# HELP` and `# TYPE` lines of a family.
/// OpenMetrics escapes `"` in HELP too (`quote`); the text format does not.
pub fn header(name: &str, help: &str, kind: &str, quote: bool, out: &mut String) {
    if !help.is_empty() {
        out.push_str("# HELP ");
        out.push_str(name);
        out.push(' ');
        escape(help, quote, out);
        out.push('\n');
    }
    out.push_str("# TYPE ");
    out.push_str(name);
    out.push(' ');
    out.push_str(kind);
    out.push('\n');
}

/// One sample line: `name_suffix{labels,le="…"} value`.
pub fn sample(out: &mut String, name: &str, suffix: &str, labels: &str, le: Option<&str>, v: f64) {
    out.push_str(name);
    out.push_str(suffix);
    if !labels.is_empty() || le.is_some() {
        out.push('{');
        out.push_str(labels);
        if let Some(le) = le {
            if !labels.is_empty() {
                out.push(',');
            }
            out.push_str("le=\"");
            out.push_str(le);
            out.push('"');
        }
        out.push('}');
    }
    out.push(' ');
    number(v, out);
    out.push('\n');
}

/// Formats a value as the text format wants it: `+Inf`, `-Inf`, `NaN`, or the shortest
/// decimal that reads back as the same float.
pub fn number(v: f64, out: &mut String) {
    if v.is_nan() {
        out.push_str("NaN");
    } else if v.is_infinite() {
        out.push_str(if v > 0.0 { "+Inf" } else { "-Inf" });
    } else if v.fract() == 0.0 && v.abs() < 1e15 {
        // Integral values (every counter) without the float formatter.
        let _ = write!(out, "{}", v as i64);
    } else {
        let _ = write!(out, "{v}");
    }
}

/// Escapes `\` and newlines (and `"` in label values), as the text format requires.
pub fn escape(s: &str, quote: bool, out: &mut String) {
    // Every series lookup escapes its label values: a `char` pattern here (which decodes
    // UTF-8) cost more than the rest of the lookup.
    if memchr::memchr3(b'\\', b'\n', b'"', s.as_bytes()).is_none() {
        out.push_str(s);
        return;
    }
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '"' if quote => out.push_str("\\\""),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use prometheus::proto::MetricFamily;
    use prometheus::{HistogramOpts, HistogramVec, IntCounterVec, Opts, Registry};

    use super::*;
    use crate::exposition::walk_gathered;

    /// The text the `prometheus` crate's own encoder writes, for comparison.
    fn reference(families: &[MetricFamily]) -> String {
        let mut out = String::new();
        prometheus::TextEncoder::new()
            .encode_utf8(families, &mut out)
            .unwrap();
        out
    }

    #[test]
    fn the_output_is_the_same_as_the_prometheus_crates_encoder() {
        let registry = Registry::new();
        let counter =
            IntCounterVec::new(Opts::new("c_total", "A \\ help\nline"), &["a", "b"]).unwrap();
        let histogram = HistogramVec::new(
            HistogramOpts::new("h_seconds", "H").buckets(vec![0.5, 1.0, 2.5]),
            &["x"],
        )
        .unwrap();
        registry.register(Box::new(counter.clone())).unwrap();
        registry.register(Box::new(histogram.clone())).unwrap();
        counter
            .with_label_values(&["q\"uote", "back\\slash\nnl"])
            .inc_by(3);
        counter.with_label_values(&["", "plain"]).inc();
        histogram.with_label_values(&["one"]).observe(0.126_238);
        histogram
            .with_label_values(&["one"])
            .observe(1_512_643_659.369_741);
        histogram.with_label_values(&["two"]).observe(2.0);

        let families = registry.gather();
        let mut ours = String::new();
        walk_gathered(&families, &mut Text::new(&mut ours));
        assert_eq!(ours, reference(&families));
    }

    #[test]
    fn special_values_are_written_as_the_text_format_spells_them() {
        let mut out = String::new();
        for v in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY, 1e20, -3.0, 0.1] {
            number(v, &mut out);
            out.push(' ');
        }
        assert_eq!(out, "NaN +Inf -Inf 100000000000000000000 -3 0.1 ");
    }
}
