//! What a walk over families gives a sink: the vocabulary every format shares.

use crate::catalogue::Kind;

/// One bucket of a histogram series, as the walk gives it: its upper bound as the `le` label
/// value (`+Inf` for the last), how many observations are at most that, and the latest
/// observation that fell in it, for the formats that write exemplars.
#[derive(Debug, Clone, Copy)]
pub struct Bucket<'a> {
    pub le: &'a str,
    pub cumulative: u64,
    pub exemplar: Option<Exemplar<'a>>,
}

/// The observation behind a bucket: which activity, its value and when (seconds since the
/// epoch).
#[derive(Debug, Clone, Copy)]
pub struct Exemplar<'a> {
    pub id: &'a str,
    pub value: f64,
    pub at: f64,
}

/// Where a walk writes. A family's header comes before its series, and only for a family that
/// has one; `labels` is the inside of a label set, escaped (`a="x",b="y"`), without `le`.
pub trait Sink {
    fn family(&mut self, name: &str, help: &str, kind: Kind);
    /// One series of a counter or gauge family.
    fn number(&mut self, name: &str, labels: &str, value: f64);
    /// One series of a histogram family: its buckets in order, `+Inf` last.
    fn histogram<'b>(
        &mut self,
        name: &str,
        labels: &str,
        buckets: impl Iterator<Item = Bucket<'b>>,
        sum: f64,
        count: u64,
    );
}
