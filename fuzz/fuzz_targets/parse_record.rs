//! Any body through parse and record: no panic, and a parsed activity records twice (the second
//! time as a duplicate) and renders without panicking either.
#![no_main]

use libfuzzer_sys::fuzz_target;
use platformsh_exporter::activity::parse;
use platformsh_exporter::record::{Recorded, Recorder, Settings};

fuzz_target!(|body: &[u8]| {
    if let Ok(activity) = parse(body) {
        let mut recorder = Recorder::new(Settings::default());
        let now = chrono::Utc::now();
        assert_eq!(recorder.record(&activity, now), Recorded::Accepted);
        assert_eq!(recorder.record(&activity, now), Recorded::Duplicate);
        assert!(!recorder.exposition().is_empty());
    }
});
