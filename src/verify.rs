//! Verify: checks the `X-JWS-Signature` of a delivery against the integration's shared key,
//! before the body is parsed. The scheme is a compact JWS, HS256, with a detached unencoded
//! payload (RFC 7797): the MAC covers `<header segment as received>.<raw body bytes>`.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD};
use hmac::{Hmac, Mac};
use serde::Deserialize;
use sha2::Sha256;

/// The header that carries the signature.
pub const SIGNATURE_HEADER: &str = "x-jws-signature";

/// A shared key. Its `Debug` never shows the key, so it cannot leak through a log of the config.
#[derive(Clone, PartialEq, Eq)]
pub struct SharedKey(String);

impl SharedKey {
    pub fn new(key: impl Into<String>) -> Self {
        Self(key.into())
    }

    /// The key itself: only for the body of the API request that gives it to an integration
    /// (`setup`), and for comparing with what the API shows. Never for output or logs.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SharedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SharedKey(<redacted>)")
    }
}

/// A blank key: refused wherever it comes from, since a delivery signed with the empty key
/// would verify while unsigned ones are refused, which looks protected and is not.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "the shared key is empty or blank; give the integration's key, or none to accept unsigned deliveries"
)]
pub struct BlankKey;

impl SharedKey {
    /// The key, unless it is blank.
    pub fn parse(key: &str) -> Result<Self, BlankKey> {
        if key.trim().is_empty() {
            Err(BlankKey)
        } else {
            Ok(Self(key.to_owned()))
        }
    }
}

impl std::str::FromStr for SharedKey {
    type Err = BlankKey;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// Why a signature was refused. The messages name the problem, never the key or the MAC.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the X-JWS-Signature header is missing; the exporter requires signed deliveries")]
    Missing,
    #[error("the X-JWS-Signature header is not a compact JWS of three dot-separated parts")]
    NotCompact,
    #[error("the JWS payload part must be empty (detached payload, RFC 7797)")]
    AttachedPayload,
    #[error("the JWS {0} part is not valid unpadded base64url")]
    Base64(&'static str),
    #[error("the JWS protected header is not a JSON object: {0}")]
    Header(String),
    #[error("the JWS algorithm {0:?} is not accepted; only HS256 is")]
    Algorithm(String),
    #[error(
        "the JWS header must declare an unencoded payload: \"b64\": false with \"crit\": [\"b64\"]"
    )]
    NotUnencoded,
    #[error("the JWS header lists critical parameters other than b64: {0:?}")]
    UnknownCritical(Vec<String>),
    #[error("the signature does not match the body")]
    Mismatch,
}

#[derive(Deserialize)]
struct Protected {
    alg: String,
    #[serde(default)]
    b64: Option<bool>,
    #[serde(default)]
    crit: Vec<String>,
}

/// Most shared keys accepted at once: enough to rotate (the old and the new, and a spare);
/// each is a `key` label value of `platformsh_exporter_webhook_signatures_verified_total`.
pub const MAX_KEYS: usize = 8;

/// Checks signatures against the shared keys (several while one is rotated).
#[derive(Clone)]
pub struct Verifier {
    /// The key bytes to try, each with the number (from 1) of the key it derives from: the
    /// key's UTF-8 bytes, and the key read as base64url or as standard base64 (what `openssl
    /// rand -base64` writes, with `+` and `/`) when it is valid as either. The public docs
    /// disagree on which Platform.sh uses; each derives from the secret, so accepting any
    /// weakens nothing.
    keys: Vec<(usize, Vec<u8>)>,
    count: usize,
}

impl fmt::Debug for Verifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Verifier(<redacted>)")
    }
}

impl Verifier {
    /// A verifier for `keys`, in order: a delivery signed with any of them verifies.
    pub fn new(keys: &[SharedKey]) -> Self {
        let mut readings = Vec::new();
        for (n, key) in keys.iter().enumerate() {
            let number = n + 1;
            let mut mine = vec![key.0.as_bytes().to_vec()];
            let unpadded = key.0.trim_end_matches('=');
            for decoded in [
                URL_SAFE_NO_PAD.decode(unpadded),
                STANDARD_NO_PAD.decode(unpadded),
            ]
            .into_iter()
            .flatten()
            {
                if !decoded.is_empty() && !mine.contains(&decoded) {
                    mine.push(decoded);
                }
            }
            readings.extend(mine.into_iter().map(|bytes| (number, bytes)));
        }
        Self {
            keys: readings,
            count: keys.len(),
        }
    }

    /// How many keys it holds.
    pub fn key_count(&self) -> usize {
        self.count
    }

    /// Verifies `signature` (the header value, if any) over the raw `body`; the number (from
    /// 1) of the first key it verifies with.
    pub fn verify(&self, signature: Option<&[u8]>, body: &[u8]) -> Result<usize, SignatureError> {
        let signature = signature.ok_or(SignatureError::Missing)?;
        let signature = std::str::from_utf8(signature).map_err(|_| SignatureError::NotCompact)?;
        let mut parts = signature.trim().split('.');
        let (Some(header), Some(payload), Some(mac), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(SignatureError::NotCompact);
        };
        if !payload.is_empty() {
            return Err(SignatureError::AttachedPayload);
        }
        let protected = URL_SAFE_NO_PAD
            .decode(header)
            .map_err(|_| SignatureError::Base64("header"))?;
        let protected: Protected = serde_json::from_slice(&protected)
            .map_err(|e| SignatureError::Header(e.to_string()))?;
        if protected.alg != "HS256" {
            return Err(SignatureError::Algorithm(protected.alg));
        }
        if protected.b64 != Some(false) || !protected.crit.iter().any(|c| c == "b64") {
            return Err(SignatureError::NotUnencoded);
        }
        let unknown: Vec<String> = protected.crit.into_iter().filter(|c| c != "b64").collect();
        if !unknown.is_empty() {
            return Err(SignatureError::UnknownCritical(unknown));
        }
        let mac = URL_SAFE_NO_PAD
            .decode(mac)
            .map_err(|_| SignatureError::Base64("signature"))?;

        let matches = |key: &[u8]| {
            let mut hmac =
                Hmac::<Sha256>::new_from_slice(key).expect("HMAC accepts keys of any length");
            hmac.update(header.as_bytes());
            hmac.update(b".");
            hmac.update(body);
            // verify_slice compares in constant time.
            hmac.verify_slice(&mac).is_ok()
        };
        // Try every reading of every key, without stopping early, so the time taken does not
        // tell which one matched.
        let verified = self.keys.iter().fold(None, |first, (number, key)| {
            let verifies = matches(key);
            first.or(verifies.then_some(*number))
        });
        verified.ok_or(SignatureError::Mismatch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RFC7797_KEY: &str =
        "AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow";
    const RFC7797_JWS: &str = "eyJhbGciOiJIUzI1NiIsImI2NCI6ZmFsc2UsImNyaXQiOlsiYjY0Il19..A5dxf2s96_n5FLueVuW1Z_vh161FwXZC4YLPff6dmDY";

    const BODY: &[u8] = include_bytes!("../tests/fixtures/signed/body.json");
    const KEY: &str = include_str!("../tests/fixtures/signed/shared-key.txt");
    const SIGNATURE: &str = include_str!("../tests/fixtures/signed/x-jws-signature.txt");

    fn shared() -> Verifier {
        Verifier::new(&[SharedKey::new(KEY.trim_end())])
    }

    #[test]
    fn the_rfc_7797_test_vector_verifies_with_the_key_read_as_base64url() {
        let verifier = Verifier::new(&[SharedKey::new(RFC7797_KEY)]);
        assert_eq!(
            verifier.verify(Some(RFC7797_JWS.as_bytes()), b"$.02"),
            Ok(1)
        );
        assert_eq!(
            verifier.verify(Some(RFC7797_JWS.as_bytes()), b"$.03"),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn the_shared_signed_fixture_verifies_with_the_key_as_utf8() {
        assert_eq!(
            shared().verify(Some(SIGNATURE.trim().as_bytes()), BODY),
            Ok(1)
        );
    }

    /// Signs `body` with `key` bytes and the given protected header, as a sender would.
    fn sign(key: &[u8], header_json: &str, body: &[u8]) -> String {
        let header = URL_SAFE_NO_PAD.encode(header_json);
        let mut hmac = Hmac::<Sha256>::new_from_slice(key).unwrap();
        hmac.update(header.as_bytes());
        hmac.update(b".");
        hmac.update(body);
        format!(
            "{header}..{}",
            URL_SAFE_NO_PAD.encode(hmac.finalize().into_bytes())
        )
    }

    const GOOD_HEADER: &str = r#"{"alg":"HS256","b64":false,"crit":["b64"]}"#;

    #[test]
    fn both_readings_of_the_key_are_accepted() {
        let key = "c2VjcmV0LWtleS1ieXRlcw"; // base64url of "secret-key-bytes"
        let verifier = Verifier::new(&[SharedKey::new(key)]);
        let as_utf8 = sign(key.as_bytes(), GOOD_HEADER, BODY);
        let as_base64 = sign(b"secret-key-bytes", GOOD_HEADER, BODY);
        assert_eq!(verifier.verify(Some(as_utf8.as_bytes()), BODY), Ok(1));
        assert_eq!(verifier.verify(Some(as_base64.as_bytes()), BODY), Ok(1));
        let other = sign(b"another key", GOOD_HEADER, BODY);
        assert_eq!(
            verifier.verify(Some(other.as_bytes()), BODY),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn one_flipped_byte_anywhere_is_rejected() {
        let verifier = shared();
        let signature = SIGNATURE.trim().as_bytes();
        for i in 0..BODY.len() {
            let mut body = BODY.to_vec();
            body[i] ^= 0x01;
            assert!(
                verifier.verify(Some(signature), &body).is_err(),
                "body byte {i}"
            );
        }
        for i in 0..signature.len() {
            let mut tampered = signature.to_vec();
            // Swap to another base64url character (or a dot to a letter), never the same byte.
            tampered[i] = if tampered[i] == b'A' { b'B' } else { b'A' };
            assert!(
                verifier.verify(Some(&tampered), BODY).is_err(),
                "signature byte {i}"
            );
        }
    }

    #[test]
    fn other_algorithms_and_encoded_payloads_are_rejected() {
        let key = KEY.trim_end().as_bytes();
        let verifier = shared();
        for (header, error) in [
            (
                r#"{"alg":"none","b64":false,"crit":["b64"]}"#,
                SignatureError::Algorithm("none".into()),
            ),
            (
                r#"{"alg":"HS512","b64":false,"crit":["b64"]}"#,
                SignatureError::Algorithm("HS512".into()),
            ),
            (r#"{"alg":"HS256"}"#, SignatureError::NotUnencoded),
            (
                r#"{"alg":"HS256","b64":false}"#,
                SignatureError::NotUnencoded,
            ),
            (
                r#"{"alg":"HS256","b64":true,"crit":["b64"]}"#,
                SignatureError::NotUnencoded,
            ),
            (
                r#"{"alg":"HS256","b64":false,"crit":["b64","exp"]}"#,
                SignatureError::UnknownCritical(vec!["exp".into()]),
            ),
        ] {
            // Correctly MACed with the right key: only the header makes it unacceptable.
            let signature = sign(key, header, BODY);
            assert_eq!(
                verifier.verify(Some(signature.as_bytes()), BODY),
                Err(error),
                "{header}"
            );
        }
    }

    #[test]
    fn malformed_signatures_are_rejected_with_the_reason() {
        let verifier = shared();
        let good = SIGNATURE.trim();
        let (header, mac) = good.split_once("..").unwrap();
        let cases = [
            (None, SignatureError::Missing),
            (Some("abc".to_owned()), SignatureError::NotCompact),
            (Some(format!("{good}.x")), SignatureError::NotCompact),
            (
                Some(format!("{header}.e30.{mac}")),
                SignatureError::AttachedPayload,
            ),
            (
                Some(format!("{header}..{mac}==")),
                SignatureError::Base64("signature"),
            ),
            (Some(format!("!!..{mac}")), SignatureError::Base64("header")),
        ];
        for (signature, error) in cases {
            assert_eq!(
                verifier.verify(signature.as_deref().map(str::as_bytes), BODY),
                Err(error),
                "{signature:?}"
            );
        }
    }

    /// README's recipe, `openssl rand -base64 32`, gives standard base64 with `+` and `/`:
    /// a MAC made with the key's text or with its decoded bytes verifies.
    #[test]
    fn a_standard_base64_key_verifies_as_text_and_as_its_decoded_bytes() {
        use base64::engine::general_purpose::STANDARD;
        let key = "q+3Lx/9ZbWc0Qe1vYk2N8sT4uJ7aHd6FgRp5mXoViwE=";
        let verifier = Verifier::new(&[SharedKey::new(key)]);
        let decoded = STANDARD.decode(key).unwrap();
        for bytes in [key.as_bytes(), &decoded[..]] {
            let signature = sign(bytes, GOOD_HEADER, BODY);
            assert_eq!(verifier.verify(Some(signature.as_bytes()), BODY), Ok(1));
        }
        let signature = sign(b"another key", GOOD_HEADER, BODY);
        assert_eq!(
            verifier.verify(Some(signature.as_bytes()), BODY),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn a_blank_key_is_refused() {
        for blank in ["", " ", "\t\n"] {
            assert_eq!(SharedKey::parse(blank), Err(BlankKey), "{blank:?}");
        }
    }

    #[test]
    fn the_key_never_shows_in_debug_output() {
        let key = SharedKey::new("hunter2");
        assert!(
            !format!("{key:?} {:?}", Verifier::new(std::slice::from_ref(&key))).contains("hunter2")
        );
    }

    /// Rotation: with the new key first and the old second, a delivery signed with either
    /// verifies, and says which; a third key does not.
    #[test]
    fn with_two_keys_either_verifies_and_says_which() {
        let (old, new) = (SharedKey::new("old-key"), SharedKey::new("new-key"));
        let both = Verifier::new(&[new.clone(), old.clone()]);
        assert_eq!(both.key_count(), 2);
        let signed_with = |key: &SharedKey| {
            let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"HS256","b64":false,"crit":["b64"]}"#);
            let mut mac = Hmac::<Sha256>::new_from_slice(key.0.as_bytes()).unwrap();
            mac.update(header.as_bytes());
            mac.update(b".");
            mac.update(BODY);
            let mac = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
            format!("{header}..{mac}")
        };
        assert_eq!(both.verify(Some(signed_with(&new).as_bytes()), BODY), Ok(1));
        assert_eq!(both.verify(Some(signed_with(&old).as_bytes()), BODY), Ok(2));
        let other = SharedKey::new("other-key");
        assert_eq!(
            both.verify(Some(signed_with(&other).as_bytes()), BODY),
            Err(SignatureError::Mismatch)
        );
    }
}
