//! Property tests over hostile input: whatever the bytes, parsing, recording and signature
//! checking return an answer (never a panic), and recording never observes a negative time.

use platformsh_exporter::activity::{
    Activity, ActivityResult, ActivityState, parse, stored_precision,
};
use platformsh_exporter::record::{Recorder, Settings};
use platformsh_exporter::verify::{SharedKey, Verifier};
use proptest::prelude::*;
use serde_json::{Value, json};

const SEED: &[u8] = include_bytes!("fixtures/push-success-seed.json");
const SIGNED_BODY: &[u8] = include_bytes!("fixtures/signed/body.json");
const SIGNED_KEY: &str = include_str!("fixtures/signed/shared-key.txt");
const SIGNATURE: &str = include_str!("fixtures/signed/x-jws-signature.txt");

/// Any JSON value, a few levels deep.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| json!(f)),
        ".{0,40}".prop_map(Value::from),
        // Strings shaped like the fields they replace.
        prop_oneof![
            Just("complete"),
            Just("in_progress"),
            Just("cancelled"),
            Just("success"),
            Just("failure"),
            Just("2026-11-02T09:00:00+00:00"),
            Just("1970-01-01T00:00:00Z"),
            Just("9999-12-31T23:59:59.999999+14:00"),
            Just("environment.push"),
            Just("environment.merge"),
        ]
        .prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::from),
            prop::collection::btree_map("[a-z_]{1,12}", inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Paths into the seed that the parser reads.
const FIELDS: &[&[&str]] = &[
    &["id"],
    &["type"],
    &["project"],
    &["state"],
    &["result"],
    &["created_at"],
    &["started_at"],
    &["completed_at"],
    &["updated_at"],
    &["cancelled_at"],
    &["environments"],
    &["timings"],
    &["payload"],
    &["payload", "environment"],
    &["payload", "environment", "name"],
    &["payload", "environment", "type"],
    &["payload", "environment", "is_main"],
    &["payload", "commits"],
    &["payload", "commits_count"],
    &["payload", "outcome"],
    &["payload", "outcome", "name"],
    &["parameters"],
    &["parameters", "from"],
    &["parameters", "into"],
    &["failure_reason"],
    &["commands"],
    &["log"],
];

fn set(doc: &mut Value, path: &[&str], value: Value) {
    let mut at = doc;
    for key in &path[..path.len() - 1] {
        if !at[*key].is_object() {
            at[*key] = json!({});
        }
        at = &mut at[*key];
    }
    at[path[path.len() - 1]] = value;
}

/// Activity types that change an environment's life or its last deployment.
/// Changes, restarts (a resources update: autoscaling) and the deploy of what was staged among
/// them.
const LIFECYCLE_KINDS: [&str; 9] = [
    "environment.push",
    "environment.merge",
    "environment.redeploy",
    "environment.resources.update",
    "environment.deploy",
    "environment.delete",
    "environment.deactivate",
    "environment.activate",
    "environment.cron",
];

fn recorder() -> Recorder {
    Recorder::new(Settings::default())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic_the_parser(body in prop::collection::vec(any::<u8>(), 0..2048)) {
        let _ = parse(&body);
    }

    #[test]
    fn mutated_seeds_parse_or_fail_cleanly_and_record_no_negative_time(
        edits in prop::collection::vec((0..FIELDS.len(), any_json()), 1..5)
    ) {
        let mut doc: Value = serde_json::from_slice(SEED).unwrap();
        for (field, value) in edits {
            set(&mut doc, FIELDS[field], value);
        }
        let body = serde_json::to_vec(&doc).unwrap();
        if let Ok(activity) = parse(&body) {
            let mut recorder = recorder();
            recorder.record(&activity, chrono::Utc::now());
            recorder.record(&activity, chrono::Utc::now());
            for line in recorder.text().lines() {
                let Some((series, value)) = line.rsplit_once(' ') else { continue };
                if series.contains("_seconds_sum") {
                    prop_assert!(value.parse::<f64>().unwrap() >= 0.0, "{}", line);
                }
            }
        }
    }

    /// A delivery recorded live and the same delivery replayed from the store after a
    /// restart give the same metrics, whatever it holds: sub-microsecond timestamps, huge
    /// commit counts, odd timings.
    #[test]
    fn live_and_replayed_recording_agree(
        edits in prop::collection::vec((0..FIELDS.len(), any_json()), 0..4),
        nanos in prop::collection::vec(0..1_000_000_000u32, 5),
        commits in prop_oneof![Just(None), any::<u64>().prop_map(Some)],
        received_nanos in 0..1_000_000_000u32,
    ) {
        let mut doc: Value = serde_json::from_slice(SEED).unwrap();
        for (field, value) in edits {
            set(&mut doc, FIELDS[field], value);
        }
        // Timestamps a fraction of a microsecond apart, in either order.
        for (field, n) in ["created_at", "started_at", "completed_at", "cancelled_at", "updated_at"]
            .into_iter()
            .zip(nanos)
        {
            doc[field] = Value::from(format!("2026-11-02T09:00:00.{n:09}Z"));
        }
        if let Some(commits) = commits {
            set(&mut doc, &["payload", "commits_count"], Value::from(commits));
        }
        let received_at = chrono::DateTime::from_timestamp(1_800_000_000, received_nanos).unwrap();
        let body = serde_json::to_vec(&doc).unwrap();
        if let Ok(activity) = parse(&body) {
            let mut live = recorder();
            live.record(&activity, received_at);
            let (stored, stored_at) = platformsh_exporter::store::round_trip(&activity, received_at)
                .unwrap();
            let mut replayed = recorder();
            replayed.record(&stored, stored_at);
            prop_assert_eq!(live.text(), replayed.text());
        }
    }

    /// The parser reads timestamps by hand in their common shape: whatever the string, it must
    /// accept what chrono accepts, with the same instant, and refuse what chrono refuses.
    #[test]
    fn timestamps_are_read_as_chrono_reads_them(
        (y, mo, d, h, mi, sec) in (0..10_000u32, 0..14u32, 0..33u32, 0..26u32, 0..61u32, 0..62u32),
        sep in prop_oneof![Just("T"), Just("t"), Just(" ")],
        fraction in "(\\.[0-9]{0,11})?",
        offset in "Z|z|UTC| UTC|[+-][0-2][0-9]:[0-6][0-9]|[+-][0-9]{4}|",
        noise in "[ x]?",
    ) {
        let s = format!("{y:04}-{mo:02}-{d:02}{sep}{h:02}:{mi:02}:{sec:02}{fraction}{offset}{noise}");
        let mut doc: Value = serde_json::from_slice(SEED).unwrap();
        doc["started_at"] = Value::from(s.clone());
        let parsed = parse(&serde_json::to_vec(&doc).unwrap());
        let chrono = s.parse::<chrono::DateTime<chrono::FixedOffset>>();
        match (parsed, chrono) {
            // Kept to the microsecond, as the store keeps them.
            (Ok(activity), Ok(t)) => {
                prop_assert_eq!(activity.started_at, Some(stored_precision(t.to_utc())));
            }
            (Err(e), Err(_)) => prop_assert_eq!(e.path, "$.started_at"),
            (parsed, chrono) => prop_assert!(false, "{s:?}: ours {parsed:?}, chrono {chrono:?}"),
        }
    }

    #[test]
    fn arbitrary_signatures_never_panic_and_never_verify(
        signature in prop::collection::vec(any::<u8>(), 0..200)
    ) {
        let verifier = Verifier::new(&[SharedKey::new(SIGNED_KEY.trim_end())]);
        prop_assert!(verifier.verify(Some(&signature), SIGNED_BODY).is_err());
    }

    #[test]
    fn a_signature_with_any_byte_changed_does_not_verify(at in 0..SIGNATURE.trim().len(), to in any::<u8>()) {
        let verifier = Verifier::new(&[SharedKey::new(SIGNED_KEY.trim_end())]);
        let mut signature = SIGNATURE.trim().as_bytes().to_vec();
        prop_assume!(signature[at] != to);
        signature[at] = to;
        // Base64url has spare bits in its last character: a change there may decode to the
        // same MAC. Such a change is no forgery, so it is not counted against us.
        let decodes_the_same = at == signature.len() - 1;
        prop_assume!(!decodes_the_same);
        prop_assert!(verifier.verify(Some(&signature), SIGNED_BODY).is_err());
    }

    #[test]
    fn a_body_with_any_byte_changed_does_not_verify(at in 0..SIGNED_BODY.len(), to in any::<u8>()) {
        let verifier = Verifier::new(&[SharedKey::new(SIGNED_KEY.trim_end())]);
        let mut body = SIGNED_BODY.to_vec();
        prop_assume!(body[at] != to);
        body[at] = to;
        prop_assert!(verifier.verify(Some(SIGNATURE.trim().as_bytes()), &body).is_err());
    }
}

proptest! {
    // Each case opens a store per activity: fewer cases than above, as many activities.
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    /// Environments that deploy, end and idle, in any order: recording live (with scrapes in
    /// between, which forget idle environments at their own time) and replaying the stored
    /// activities (no scrapes) end with the same metrics after one last scrape.
    #[test]
    fn environment_lifecycles_live_and_replayed_agree(
        steps in prop::collection::vec(
            (0..4usize, 0..LIFECYCLE_KINDS.len(), 0..5usize, 0..5000i64, 1..4000i64, any::<bool>()),
            1..40,
        ),
        // Per step: the commits a push lists (of six), with or without an author date; a
        // merge's child.
        commits in prop::collection::vec((prop::collection::vec((0..6usize, any::<bool>()), 0..4), 0..4usize), 40),
        max_commits in 3..8usize,
    ) {
        let settings = || Settings {
            forget_after: Some(std::time::Duration::from_secs(3000)),
            limits: platformsh_exporter::labels::Limits {
                environments: 3,
                commits: max_commits,
                ..Default::default()
            },
            ..Settings::default()
        };
        let seed = parse(SEED).unwrap();
        let (mut live, mut replayed) = (Recorder::new(settings()), Recorder::new(settings()));
        let mut received = 1_800_000_000;
        for (n, ((env, kind, result, age, gap, scrape), (listed, child))) in
            steps.into_iter().zip(commits).enumerate()
        {
            if scrape {
                live.forget_idle_environments((received + gap / 2) as f64);
            }
            received += gap;
            let at = chrono::DateTime::from_timestamp(received - age, 0);
            let (state, result) = match result {
                0 => (ActivityState::Complete, Some(ActivityResult::Success)),
                1 => (ActivityState::Complete, Some(ActivityResult::Failure)),
                // Manual deployment: staged with a result (ids repeat, so the same id is
                // sometimes seen complete too: counted once, live and replayed alike).
                2 => (ActivityState::Staged, Some(ActivityResult::Failure)),
                // Complete without a result: `unknown`, moving no health.
                3 => (ActivityState::Complete, None),
                _ => (ActivityState::InProgress, None),
            };
            let kind = LIFECYCLE_KINDS[kind];
            let commit_list = listed
                .iter()
                .map(|&(sha, dated)| platformsh_exporter::activity::Commit {
                    sha: format!("c{sha}"),
                    author_date: at.filter(|_| dated).map(|t| t - chrono::Duration::hours(1)),
                })
                .collect();
            let activity = Activity {
                id: format!("a{}", n % 30),
                kind: kind.into(),
                environment: ["a", "b", "c", "d"][env].into(),
                // `a` is production: its deployments deliver commits.
                environment_type: if env == 0 { "production" } else { "development" }.into(),
                commit_list,
                merged_child: (kind == "environment.merge").then(|| ["a", "b", "c", "d"][child].into()),
                state,
                result,
                created_at: at,
                started_at: at,
                completed_at: at,
                updated_at: at,
                ..seed.clone()
            };
            let received_at = chrono::DateTime::from_timestamp(received, 0).unwrap();
            live.record(&activity, received_at);
            let (stored, stored_at) =
                platformsh_exporter::store::round_trip(&activity, received_at).unwrap();
            replayed.record(&stored, stored_at);
        }
        live.forget_idle_environments((received + 1) as f64);
        replayed.forget_idle_environments((received + 1) as f64);
        prop_assert_eq!(live.text(), replayed.text());
    }
}

#[test]
fn the_unmodified_signed_fixture_verifies() {
    // The property tests above prove rejection; this proves they start from a valid pair.
    let verifier = Verifier::new(&[SharedKey::new(SIGNED_KEY.trim_end())]);
    assert!(
        verifier
            .verify(Some(SIGNATURE.trim().as_bytes()), SIGNED_BODY)
            .is_ok()
    );
}

/// Every input of the committed fuzz corpus (`fuzz/corpus/`, minimised from the local fuzzing
/// runs) goes through the same checks as the fuzz targets, so CI replays what fuzzing found.
#[test]
fn the_fuzz_corpus_replays_cleanly() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus");
    let mut replayed = 0;
    for entry in std::fs::read_dir(root.join("parse_record")).unwrap() {
        let body = std::fs::read(entry.unwrap().path()).unwrap();
        if let Ok(activity) = parse(&body) {
            let mut recorder = recorder();
            recorder.record(&activity, chrono::Utc::now());
            assert!(recorder.text().starts_with("# HELP "));
        }
        replayed += 1;
    }
    let verifier = Verifier::new(&[SharedKey::new("fuzzing-key")]);
    for entry in std::fs::read_dir(root.join("verify")).unwrap() {
        let input = std::fs::read(entry.unwrap().path()).unwrap();
        assert!(verifier.verify(Some(&input), SIGNED_BODY).is_err());
        assert!(
            verifier
                .verify(Some(SIGNATURE.trim().as_bytes()), &input)
                .is_err()
        );
        replayed += 1;
    }
    assert!(replayed > 1000, "the corpus is missing: {replayed} inputs");
}
