//! Memory bounds, measured by a counting allocator: the peak of parsing a body, and what a
//! remembered commit costs. A test binary of its own, with a single test: the allocator counts
//! the whole process, so nothing else may run beside each measure.

use std::alloc::System;

use cap::Cap;

#[global_allocator]
static ALLOCATOR: Cap<System> = Cap::new(System, usize::MAX);

/// A body of `len` bytes whose `environments` array holds millions of empty strings.
fn amplifying_body(len: usize) -> Vec<u8> {
    let head = br#"{"id":"a","type":"environment.push","project":"p","state":"complete","result":"success","environments":["main""#;
    let mut body = Vec::with_capacity(len);
    body.extend_from_slice(head);
    while body.len() + 3 + 2 < len {
        body.extend_from_slice(br#","""#);
    }
    body.extend_from_slice(b"]}");
    body
}

#[test]
fn memory_stays_within_its_bounds() {
    parsing_a_body_holds_at_most_a_small_multiple_of_its_size();
    a_remembered_commit_costs_a_few_hundred_bytes();
}

/// Lead time remembers up to `--limits.commits` commits: README gives their cost per commit.
fn a_remembered_commit_costs_a_few_hundred_bytes() {
    use platformsh_exporter::activity::Commit;
    const N: usize = 20_000;
    let commits: Vec<Commit> = (0..N)
        .map(|i| Commit {
            sha: format!("{i:040x}"),
            author_date: chrono::DateTime::from_timestamp(1_800_000_000, 0),
        })
        .collect();
    let before = ALLOCATOR.allocated();
    let mut lead = platformsh_exporter::record::lead::LeadTimes::new(N);
    // In batches of 10, as pushes list them, each pending in its branch.
    for (n, batch) in commits.chunks(10).enumerate() {
        lead.seen("project-one", batch, 1_800_000_000_000_000);
        lead.pushed("project-one", &format!("feature-{}", n % 50), batch);
    }
    let per_commit = (ALLOCATOR.allocated() - before) / N;
    eprintln!("{N} remembered commits: {per_commit} bytes each");
    assert_eq!(lead.len(), N);
    assert!(per_commit < 320, "{per_commit} bytes per remembered commit");
}

/// Only the first of `environments` is used, so the rest is skipped without being built:
/// 5.6 million empty strings in a 16 MiB body once cost 134 MB of `Cow`s.
fn parsing_a_body_holds_at_most_a_small_multiple_of_its_size() {
    let body = amplifying_body(16 * 1024 * 1024);
    let before = ALLOCATOR.allocated();
    assert!(
        ALLOCATOR.max_allocated() < before + body.len() / 4,
        "building the body must not leave a higher peak than the parse may reach"
    );
    let activity = platformsh_exporter::activity::parse(&body).unwrap();
    assert_eq!(activity.environment, "main");
    let peak = ALLOCATOR.max_allocated() - before;
    eprintln!("parse of {} bytes: peak {peak} bytes", body.len());
    assert!(
        peak < body.len(),
        "parsing {} bytes allocated {peak} bytes at the peak",
        body.len()
    );
}
