//! A copy of the recorder's families at one generation, written outside the recorder's lock.

use crate::exposition::{Families, Format, Sink};
use crate::series::{ActivityFamilies, RecorderFamilies};

/// The recorder's families as they were at one generation, written outside its lock.
#[derive(Debug)]
pub struct Snapshot {
    pub generation: u64,
    pub(super) families: ActivityFamilies,
    pub(super) own: RecorderFamilies,
}

impl Snapshot {
    /// The families in `format` (OpenMetrics without the final `# EOF`).
    pub fn write(&self, format: Format) -> String {
        let mut out = String::new();
        crate::exposition::write(self, format, &mut out);
        out
    }
}

/// The activity families, then the recorder's own.
impl Families for Snapshot {
    fn walk(&self, sink: &mut impl Sink) {
        self.families.walk(sink);
        self.own.walk(sink);
    }
}
