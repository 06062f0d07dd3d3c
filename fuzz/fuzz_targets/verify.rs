//! Any X-JWS-Signature value and body: no panic, and nothing verifies without the key's MAC.
#![no_main]

use libfuzzer_sys::fuzz_target;
use platformsh_exporter::verify::{SharedKey, Verifier};

fuzz_target!(|input: (&[u8], &[u8])| {
    let (signature, body) = input;
    let verifier = Verifier::new(&[SharedKey::new("fuzzing-key")]);
    assert!(verifier.verify(Some(signature), body).is_err());
});
