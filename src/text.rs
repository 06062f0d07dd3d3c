//! The Prometheus text exposition format (0.0.4): writes what `prometheus::TextEncoder` writes,
//! faster. It encodes each series' label set once, not once per histogram bucket, and formats
//! numbers without an allocation each. It knows nothing of where the values are kept: the
//! activity families' [`Series`](crate::series::Series) and the `prometheus` crate's gathered
//! families both call it.

use std::fmt::Write;

use prometheus::proto::{Bucket, LabelPair, MetricFamily, MetricType};

/// A source of metric families that writes itself in the text format. The `/metrics` handler
/// joins sources without knowing their insides (as linkerd2-proxy's `FmtMetrics`).
pub trait WriteText {
    /// Appends this source's families to `out`.
    fn write_text(&self, out: &mut String);

    /// Appends this source's families to `out` in OpenMetrics (without the final `# EOF`).
    fn write_openmetrics(&self, out: &mut String) {
        let mut text = String::new();
        self.write_text(&mut text);
        out.push_str(&to_openmetrics(&text));
    }
}

/// Appends `families` to `out` in the Prometheus text format.
pub fn encode(families: &[MetricFamily], out: &mut String) {
    let mut labels = String::new();
    for family in families {
        let name = family.name();
        let kind = family.get_field_type();
        let type_name = match kind {
            MetricType::COUNTER => "counter",
            MetricType::GAUGE => "gauge",
            MetricType::HISTOGRAM => "histogram",
            MetricType::SUMMARY => "summary",
            MetricType::UNTYPED => "untyped",
        };
        header(name, family.help(), type_name, out);
        for metric in family.get_metric() {
            labels.clear();
            label_set(metric.get_label(), &mut labels);
            match kind {
                MetricType::COUNTER => {
                    sample(out, name, "", &labels, None, metric.get_counter().value());
                }
                MetricType::GAUGE => {
                    sample(out, name, "", &labels, None, metric.get_gauge().value());
                }
                MetricType::HISTOGRAM => {
                    let h = metric.get_histogram();
                    let bounds: Vec<String> =
                        h.get_bucket().iter().map(|b| le(b.upper_bound())).collect();
                    let counts = h.get_bucket().iter().map(Bucket::cumulative_count);
                    let buckets = bounds.iter().map(String::as_str).zip(counts);
                    let (count, sum) = (h.get_sample_count(), h.get_sample_sum());
                    histogram(out, name, &labels, buckets, count, sum);
                }
                // The exporter defines no summaries or untyped metrics.
                MetricType::SUMMARY | MetricType::UNTYPED => {}
            }
        }
    }
}

/// The `# HELP` and `# TYPE` lines of a family.
pub fn header(name: &str, help: &str, kind: &str, out: &mut String) {
    if !help.is_empty() {
        out.push_str("# HELP ");
        out.push_str(name);
        out.push(' ');
        escape(help, false, out);
        out.push('\n');
    }
    out.push_str("# TYPE ");
    out.push_str(name);
    out.push(' ');
    out.push_str(kind);
    out.push('\n');
}

/// A bucket's upper bound as its `le` label value.
pub fn le(bound: f64) -> String {
    let mut le = String::new();
    number(bound, &mut le);
    le
}

/// The sample lines of one histogram series: a `_bucket` per (`le`, cumulative count), then
/// `+Inf`, `_sum` and `_count`.
pub fn histogram<'a>(
    out: &mut String,
    name: &str,
    labels: &str,
    buckets: impl IntoIterator<Item = (&'a str, u64)>,
    count: u64,
    sum: f64,
) {
    for (le, cumulative) in buckets {
        sample(out, name, "_bucket", labels, Some(le), cumulative as f64);
    }
    sample(out, name, "_bucket", labels, Some("+Inf"), count as f64);
    sample(out, name, "_sum", labels, None, sum);
    sample(out, name, "_count", labels, None, count as f64);
}

/// An exemplar as OpenMetrics writes it after a bucket: `# {activity_id="…"} value timestamp`.
#[derive(Debug, Clone, Copy)]
pub struct ExemplarText<'a> {
    pub id: &'a str,
    pub value: f64,
    pub at: f64,
}

/// One `_bucket` line, with its exemplar if any.
pub fn bucket_with_exemplar(
    out: &mut String,
    name: &str,
    labels: &str,
    le: &str,
    cumulative: u64,
    exemplar: Option<ExemplarText<'_>>,
) {
    sample(out, name, "_bucket", labels, Some(le), cumulative as f64);
    if let Some(e) = exemplar {
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

/// `a="1",b="2"`: the inside of a label set, escaped.
fn label_set(pairs: &[LabelPair], out: &mut String) {
    for (i, pair) in pairs.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(pair.name());
        out.push_str("=\"");
        escape(pair.value(), true, out);
        out.push('"');
    }
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

/// The same families in the OpenMetrics text format: a counter family is named without its
/// `_total` (its samples keep it). Everything else this exporter writes (gauges, histograms
/// with `le`, escaping, numbers) is the same in both; the whole exposition then ends with
/// `# EOF`, which the handler adds after every source.
pub fn to_openmetrics(text: &str) -> String {
    // HELP comes before TYPE: the counters are known first, in one pass over the headers.
    let counters: std::collections::HashSet<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE ")?.strip_suffix(" counter"))
        .collect();
    let mut out = String::with_capacity(text.len() + 8);
    for line in text.lines() {
        let header = ["# HELP ", "# TYPE "]
            .into_iter()
            .find_map(|prefix| Some((prefix, line.strip_prefix(prefix)?)));
        match header {
            Some((prefix, rest)) => {
                let name = rest.split(' ').next().unwrap_or_default();
                out.push_str(prefix);
                match name.strip_suffix("_total") {
                    Some(bare) if counters.contains(name) => out.push_str(bare),
                    _ => out.push_str(name),
                }
                out.push_str(&rest[name.len()..]);
            }
            None => out.push_str(line),
        }
        out.push('\n');
    }
    out
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
    use prometheus::{HistogramOpts, HistogramVec, IntCounterVec, Opts, Registry};

    use super::*;

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
        encode(&families, &mut ours);
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

    #[test]
    fn openmetrics_names_counter_families_without_total_and_ends_with_eof() {
        let text = "# HELP a_total Things.\n# TYPE a_total counter\na_total{x=\"1\"} 2\n\
                    # HELP g A gauge.\n# TYPE g gauge\ng 1\n";
        assert_eq!(
            to_openmetrics(text),
            "# HELP a Things.\n# TYPE a counter\na_total{x=\"1\"} 2\n\
             # HELP g A gauge.\n# TYPE g gauge\ng 1\n"
        );
    }
}
