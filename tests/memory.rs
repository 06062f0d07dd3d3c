//! Peak memory of parsing a body, measured by a counting allocator. A test binary of its own:
//! the allocator counts the whole process, so no other test may run beside this one.

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

/// Only the first of `environments` is used, so the rest is skipped without being built:
/// 5.6 million empty strings in a 16 MiB body once cost 134 MB of `Cow`s.
#[test]
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
