//! Parse: turns a webhook body (the wire shape) into a typed, validated [`Activity`].
//! Everything a delivery can get wrong is caught here.

use std::borrow::Cow;
use std::fmt;

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde::de::{Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::lenient::{FailedCommands, FirstOf, ObjectOr, TextOr, absent_for};
use super::model::{
    Activity, ActivityResult, ActivityState, Commit, FailureReason, MAX_COMMITS_PER_PUSH,
    MAX_ID_BYTES, MAX_LABEL_BYTES, MAX_SHA_BYTES, OVERFLOW, Timings, stored_precision,
};
use super::timestamp::Timestamp;

/// Why a body is not an activity, and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message} (at {path})")]
pub struct ParseError {
    /// A JSON path such as `$.payload.environment.name`; `$` is the whole body.
    pub path: String,
    pub message: String,
}

impl ParseError {
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            message: message.into(),
        }
    }
}

/// Parses one webhook body. The `log` field and every other unknown field are skipped by the
/// deserializer without being built into values.
pub fn parse(body: &[u8]) -> Result<Activity, ParseError> {
    let first = body.iter().find(|b| !b.is_ascii_whitespace());
    match first {
        None => {
            return Err(ParseError::new(
                "$",
                "the body is empty; expected a JSON object",
            ));
        }
        Some(b'{') => {}
        Some(_) if serde_json::from_slice::<IgnoredAny>(body).is_ok() => {
            return Err(ParseError::new(
                "$",
                "expected a JSON object (one activity), found another JSON value",
            ));
        }
        // Not JSON at all: let the deserializer say where it breaks.
        Some(_) => {}
    }

    // Fast path: plain serde. Only a body that fails is parsed again with the path tracker,
    // which costs a third of the parse, to say where it failed.
    match serde_json::from_slice::<Wire<'_>>(body) {
        Ok(wire) => wire.normalise(),
        Err(_) => Err(locate_error(body)),
    }
}

/// Parses a body already known to be invalid again, tracking the JSON path, for the error.
fn locate_error(body: &[u8]) -> ParseError {
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    match serde_path_to_error::deserialize::<_, Wire<'_>>(&mut deserializer) {
        Err(e) => {
            let path = json_path(&e.path().to_string());
            ParseError::new(path, e.into_inner().to_string())
        }
        Ok(_) => match deserializer.end() {
            Err(e) => ParseError::new("$", format!("trailing data after the object: {e}")),
            // Unreachable in practice: both parsers accept the same documents.
            Ok(()) => ParseError::new("$", "the body is not a valid activity"),
        },
    }
}

/// `serde_path_to_error` writes `.` for the root and `a.b[0]` below it.
fn json_path(path: &str) -> String {
    if path == "." || path.is_empty() {
        "$".to_owned()
    } else if path.starts_with('[') {
        format!("${path}")
    } else {
        format!("$.{path}")
    }
}

#[derive(Deserialize)]
struct Wire<'a> {
    #[serde(borrow)]
    id: Cow<'a, str>,
    #[serde(rename = "type", borrow)]
    kind: Cow<'a, str>,
    #[serde(borrow)]
    project: Cow<'a, str>,
    state: ActivityState,
    #[serde(default)]
    result: Option<ActivityResult>,
    #[serde(default)]
    created_at: Option<Timestamp>,
    #[serde(default)]
    started_at: Option<Timestamp>,
    #[serde(default)]
    completed_at: Option<Timestamp>,
    #[serde(default)]
    cancelled_at: Option<Timestamp>,
    #[serde(default)]
    updated_at: Option<Timestamp>,
    #[serde(default, borrow)]
    environments: Option<FirstOf<'a>>,
    #[serde(default)]
    timings: ObjectOr<Timings>,
    #[serde(default, borrow)]
    payload: ObjectOr<WirePayload<'a>>,
    #[serde(default, borrow)]
    parameters: ObjectOr<WireParameters<'a>>,
    #[serde(default, borrow)]
    failure_reason: TextOr<'a>,
    #[serde(default)]
    commands: FailedCommands,
}

/// The `parameters` the exporter reads: a merge's source and target.
#[derive(Deserialize)]
struct WireParameters<'a> {
    #[serde(default, borrow)]
    from: TextOr<'a>,
    #[serde(default, borrow)]
    into: TextOr<'a>,
}

#[derive(Deserialize)]
struct WirePayload<'a> {
    #[serde(default, borrow)]
    environment: ObjectOr<WireEnvironment<'a>>,
    /// In a merge, the child merged into `environment`.
    #[serde(default, borrow)]
    outcome: ObjectOr<WireEnvironment<'a>>,
    #[serde(default)]
    commits_count: Option<u64>,
    #[serde(default)]
    commits: Option<Commits>,
}

#[derive(Deserialize)]
struct WireEnvironment<'a> {
    #[serde(default, borrow)]
    name: Option<Cow<'a, str>>,
    #[serde(rename = "type", default, borrow)]
    kind: Option<Cow<'a, str>>,
    #[serde(default)]
    is_main: Option<bool>,
}

/// `payload.commits`: how many it lists, and those with a usable `sha` (ASCII letters and
/// digits, at most [`MAX_SHA_BYTES`]) with their `author.date`; everything else of a commit
/// (message, parents, author's name and email) is skipped without being built. A commit of
/// another shape is counted and not kept: it never costs the delivery.
struct Commits {
    listed: u64,
    kept: Vec<Commit>,
    /// Usable ones past [`MAX_COMMITS_PER_PUSH`].
    dropped: u64,
}

#[derive(Deserialize)]
struct WireCommit<'a> {
    #[serde(default, borrow)]
    sha: TextOr<'a>,
    #[serde(default)]
    author: ObjectOr<WireAuthor>,
}

#[derive(Deserialize)]
struct WireAuthor {
    #[serde(default)]
    date: AuthorDate,
}

/// `author.date`: epoch seconds; anything else (a string, null) is no date.
#[derive(Default)]
struct AuthorDate(Option<DateTime<Utc>>);

impl<'de> Deserialize<'de> for AuthorDate {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Date;
        impl<'de> Visitor<'de> for Date {
            type Value = AuthorDate;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("epoch seconds")
            }
            fn visit_i64<E>(self, v: i64) -> Result<AuthorDate, E> {
                Ok(AuthorDate(DateTime::from_timestamp(v, 0)))
            }
            fn visit_u64<E>(self, v: u64) -> Result<AuthorDate, E> {
                Ok(AuthorDate(
                    i64::try_from(v)
                        .ok()
                        .and_then(|v| DateTime::from_timestamp(v, 0)),
                ))
            }
            fn visit_f64<E>(self, v: f64) -> Result<AuthorDate, E> {
                let micros = (v * 1e6).round();
                Ok(AuthorDate(if micros.is_finite() && micros.abs() < 9.0e18 {
                    DateTime::from_timestamp_micros(micros as i64)
                } else {
                    None
                }))
            }
            absent_for!(AuthorDate = AuthorDate(None); str bool unit map seq);
        }
        deserializer.deserialize_any(Date)
    }
}

fn usable_sha(sha: &str) -> bool {
    !sha.is_empty() && sha.len() <= MAX_SHA_BYTES && sha.bytes().all(|b| b.is_ascii_alphanumeric())
}

impl<'de> Deserialize<'de> for Commits {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct List;
        impl<'de> Visitor<'de> for List {
            type Value = Commits;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an array")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Commits, A::Error> {
                let mut commits = Commits {
                    listed: 0,
                    kept: Vec::new(),
                    dropped: 0,
                };
                while let Some(commit) = seq.next_element::<ObjectOr<WireCommit<'de>>>()? {
                    commits.listed += 1;
                    let Some(commit) = commit.0 else { continue };
                    let Some(sha) = commit.sha.0.filter(|s| usable_sha(s)) else {
                        continue;
                    };
                    if commits.kept.len() >= MAX_COMMITS_PER_PUSH {
                        commits.dropped += 1;
                        continue;
                    }
                    let author_date = commit.author.0.and_then(|a| a.date.0).map(stored_precision);
                    commits.kept.push(Commit {
                        sha: sha.into_owned(),
                        author_date,
                    });
                }
                Ok(commits)
            }
        }
        deserializer.deserialize_seq(List)
    }
}

/// `environment_type` when the payload does not say: the main environment is production;
/// another environment is development, Platform.sh's type for a new branch.
/// Types whose `payload.outcome`, not `payload.environment`, is the environment they happened
/// to: a sync's child (its `environment` is the parent it copied from), a branch's or an
/// initialize's new environment.
const OUTCOME_NAMES_THE_ENVIRONMENT: [&str; 3] = [
    "environment.synchronize",
    "environment.branch",
    "environment.initialize",
];

fn environment_type(env: Option<&WireEnvironment<'_>>, environment: &str) -> String {
    match env {
        Some(WireEnvironment {
            kind: Some(kind), ..
        }) => kind.to_string(),
        Some(WireEnvironment {
            is_main: Some(true),
            ..
        }) => "production".to_owned(),
        Some(WireEnvironment {
            is_main: Some(false),
            ..
        }) => "development".to_owned(),
        _ if environment.is_empty() => String::new(),
        _ => "unknown".to_owned(),
    }
}

impl Wire<'_> {
    fn normalise(self) -> Result<Activity, ParseError> {
        let payload = self.payload.0.as_ref();
        // The environment the activity happened to. A sync's `payload.environment` is the
        // parent it copied from, and `payload.outcome` the child it synced and redeployed; a
        // branch's or an initialize's new environment is `payload.outcome` too (README, Which
        // environment). Without an `outcome`, `environments` names it, and `payload.environment`
        // gives its type only if it names the same one.
        let in_outcome = OUTCOME_NAMES_THE_ENVIRONMENT.contains(&self.kind.as_ref());
        let (env, [name_path, type_path]) = if in_outcome {
            let outcome = payload.and_then(|p| p.outcome.0.as_ref());
            let listed = self.environments.as_ref().and_then(|e| e.0.as_deref());
            let same = payload
                .and_then(|p| p.environment.0.as_ref())
                .filter(|e| listed.is_some() && e.name.as_deref() == listed);
            let paths = ["$.payload.outcome.name", "$.payload.outcome.type"];
            (outcome.filter(|o| o.name.is_some()).or(same), paths)
        } else {
            let environment = payload.and_then(|p| p.environment.0.as_ref());
            let paths = ["$.payload.environment.name", "$.payload.environment.type"];
            (environment, paths)
        };
        let parameters = self.parameters.0.as_ref();
        let is_merge = self.kind.starts_with("environment.merge");
        // A merge names its target in `parameters.into` too; `environments` may list the
        // child first.
        let into = parameters
            .filter(|_| is_merge)
            .and_then(|p| p.into.0.as_deref());
        let environment = env
            .and_then(|e| e.name.as_deref())
            .or(into)
            .or_else(|| self.environments.as_ref()?.0.as_deref())
            .unwrap_or_default()
            .to_owned();
        let outcome = payload.and_then(|p| p.outcome.0.as_ref()?.name.as_deref());
        let merged_child = match (outcome, parameters.and_then(|p| p.from.0.as_deref())) {
            _ if !is_merge => None,
            (Some(child), _) => Some(("$.payload.outcome.name", child.to_owned())),
            (None, Some(child)) => Some(("$.parameters.from", child.to_owned())),
            (None, None) => None,
        };
        let environment_type = environment_type(env, &environment);

        check_value("$.id", &self.id, MAX_ID_BYTES, false)?;
        check_value("$.project", &self.project, MAX_LABEL_BYTES, false)?;
        check_value("$.type", &self.kind, MAX_LABEL_BYTES, false)?;
        check_value(name_path, &environment, MAX_LABEL_BYTES, true)?;
        check_value(type_path, &environment_type, MAX_LABEL_BYTES, true)?;
        if let Some((path, child)) = &merged_child {
            check_value(path, child, MAX_LABEL_BYTES, true)?;
        }
        let commits = self.payload.0.as_ref().and_then(|p| {
            p.commits_count
                .or_else(|| p.commits.as_ref().map(|c| c.listed))
        });
        // The store keeps a signed 64-bit integer: a larger count could not be replayed as it
        // was recorded (and no push has that many commits).
        if commits.is_some_and(|c| i64::try_from(c).is_err()) {
            return Err(ParseError::new(
                "$.payload.commits_count",
                format!("is larger than {}, the most accepted", i64::MAX),
            ));
        }
        let listed = self.payload.0.and_then(|p| p.commits).unwrap_or(Commits {
            listed: 0,
            kept: Vec::new(),
            dropped: 0,
        });
        let utc = |t: Option<Timestamp>| t.map(|t| stored_precision(t.0));
        Ok(Activity {
            id: self.id.into_owned(),
            kind: self.kind.into_owned(),
            project: self.project.into_owned(),
            environment,
            environment_type,
            state: self.state,
            result: self.result,
            created_at: utc(self.created_at),
            started_at: utc(self.started_at),
            completed_at: utc(self.completed_at),
            cancelled_at: utc(self.cancelled_at),
            updated_at: utc(self.updated_at),
            timings: self.timings.0.unwrap_or_default(),
            commits,
            commits_dropped: listed.dropped,
            commit_list: listed.kept,
            failure_reason: self.failure_reason.0.as_deref().and_then(|r| match r {
                "" => None,
                "error" => Some(FailureReason::Error),
                "shell" => Some(FailureReason::Shell),
                _ => Some(FailureReason::Unknown),
            }),
            failed_commands: self.commands.0,
            merged_child: merged_child.map(|(_, child)| child),
            source: super::model::Source::Webhook,
        })
    }
}

/// Label values must be short and printable: they end up in every scrape.
/// A project id that did not come in an activity (the API's access list, a flag): checked as a
/// delivery's `project` is, and of the shape Platform.sh gives project ids (letters, digits,
/// `-` and `_`), since it also goes into API paths: `" "` or `../../etc` is nobody's project.
pub fn check_project_id(path: &str, id: &str) -> Result<(), ParseError> {
    check_value(path, id, MAX_LABEL_BYTES, false)?;
    if !id
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(ParseError::new(
            path,
            "is not a project id: only letters, digits, - and _",
        ));
    }
    Ok(())
}

fn check_value(path: &str, value: &str, max: usize, may_be_empty: bool) -> Result<(), ParseError> {
    if value.is_empty() && !may_be_empty {
        return Err(ParseError::new(path, "must not be empty"));
    }
    if value.len() > max {
        return Err(ParseError::new(
            path,
            format!("is {} bytes long; at most {max} are accepted", value.len()),
        ));
    }
    if value.chars().any(char::is_control) {
        return Err(ParseError::new(path, "must not contain control characters"));
    }
    if let Some((at, c)) = value.char_indices().find(|&(_, c)| invisible(c)) {
        return Err(ParseError::new(
            path,
            format!(
                "must not contain invisible, line-breaking or direction-changing characters \
                 (U+{:04X} at byte {at}): they make look-alike names on dashboards",
                u32::from(c)
            ),
        ));
    }
    if value == OVERFLOW {
        return Err(ParseError::new(
            path,
            format!("{OVERFLOW} is reserved for label values past their cap"),
        ));
    }
    Ok(())
}

/// Characters that render as nothing, break lines or reorder text: Unicode's default-ignorable
/// code points (zero-width spaces and joiners, bidi embeddings, overrides and isolates,
/// variation selectors, tags, fillers) and the line and paragraph separators.
fn invisible(c: char) -> bool {
    matches!(
        u32::from(c),
        0x00AD
            | 0x034F
            | 0x061C
            | 0x115F..=0x1160
            | 0x17B4..=0x17B5
            | 0x180B..=0x180F
            | 0x200B..=0x200F
            | 0x2028..=0x202E
            | 0x2060..=0x206F
            | 0x3164
            | 0xFE00..=0xFE0F
            | 0xFEFF
            | 0xFFA0
            | 0xFFF0..=0xFFFB
            | 0x1BCA0..=0x1BCA3
            | 0x1D173..=0x1D17A
            | 0xE0000..=0xE0FFF
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::activity::ResultLabel;

    const SEED: &[u8] = include_bytes!("../../tests/fixtures/push-success-seed.json");

    #[test]
    fn the_seed_payload_parses_into_its_normalised_fields() {
        let a = parse(SEED).unwrap();
        assert_eq!(a.id, "774-this-is-an-example-valuexzs4no");
        assert_eq!(a.kind, "environment.push");
        assert_eq!(a.project, "sx-this-is-an-example-value-hu");
        assert_eq!(a.environment, "master");
        assert_eq!(a.environment_type, "production");
        assert_eq!(a.state, ActivityState::Complete);
        assert_eq!(a.finished(), Some(ResultLabel::Success));
        assert_eq!(a.commits, Some(1));
        assert_eq!(
            a.completed_at.unwrap().timestamp_micros(),
            1_512_643_659_369_741
        );
        assert_eq!(a.timings, Timings::default());
    }

    fn with(field: &str, value: serde_json::Value) -> Vec<u8> {
        let mut v: serde_json::Value = serde_json::from_slice(SEED).unwrap();
        v[field] = value;
        serde_json::to_vec(&v).unwrap()
    }

    /// The store writes and reads states and results by `as_str`: it must be serde's spelling.
    #[test]
    fn as_str_is_the_wire_spelling() {
        for state in ActivityState::ALL {
            assert_eq!(serde_json::to_value(state).unwrap(), state.as_str());
        }
        for outcome in ActivityResult::ALL {
            assert_eq!(serde_json::to_value(outcome).unwrap(), outcome.as_str());
        }
    }

    #[test]
    fn a_wrong_type_names_the_field() {
        let err = parse(&with("type", 42.into())).unwrap_err();
        assert_eq!(err.path, "$.type");
        assert!(err.message.contains("invalid type: integer `42`"), "{err}");
    }

    /// The hand parser agrees with chrono wherever it answers, and answers for the shapes
    /// Platform.sh sends.
    #[test]
    fn a_bad_timestamp_names_the_field() {
        let err = parse(&with("started_at", "yesterday".into())).unwrap_err();
        assert_eq!(err.path, "$.started_at");
    }

    #[test]
    fn an_unknown_state_lists_the_expected_ones() {
        let err = parse(&with("state", "exploded".into())).unwrap_err();
        assert_eq!(err.path, "$.state");
        assert!(err.message.contains("expected one of"), "{err}");
    }

    #[test]
    fn a_missing_required_field_is_named() {
        let mut v: serde_json::Value = serde_json::from_slice(SEED).unwrap();
        v.as_object_mut().unwrap().remove("project");
        let err = parse(&serde_json::to_vec(&v).unwrap()).unwrap_err();
        assert_eq!(err.path, "$");
        assert!(err.message.contains("missing field `project`"), "{err}");
    }

    #[test]
    fn non_object_bodies_are_rejected_at_the_root() {
        for body in [&b"[1,2,3]"[..], b"\"x\"", b"", b"  "] {
            assert_eq!(parse(body).unwrap_err().path, "$");
        }
    }

    #[test]
    fn control_characters_and_long_values_are_rejected() {
        assert_eq!(
            parse(&with("project", "a\nb".into())).unwrap_err().path,
            "$.project"
        );
        let long = "p".repeat(MAX_LABEL_BYTES + 1);
        assert_eq!(
            parse(&with("project", long.into())).unwrap_err().path,
            "$.project"
        );
    }

    #[test]
    fn invisible_and_direction_changing_characters_are_rejected() {
        for (value, code) in [
            ("pro\u{202E}duction", "U+202E"),
            ("main\u{200B}", "U+200B"),
            ("a\u{2028}b", "U+2028"),
            ("\u{2066}x\u{2069}", "U+2066"),
            ("x\u{FEFF}", "U+FEFF"),
            ("tag\u{E0041}", "U+E0041"),
        ] {
            let err = parse(&with("project", value.into())).unwrap_err();
            assert_eq!(err.path, "$.project", "{value:?}");
            assert!(err.message.contains(code), "{err}");
        }
        // Letters of any script are fine.
        assert!(parse(&with("project", "projét-日本-проект".into())).is_ok());
    }

    #[test]
    fn the_overflow_value_is_reserved() {
        let err = parse(&with("type", OVERFLOW.into())).unwrap_err();
        assert_eq!(err.path, "$.type");
        assert!(err.message.contains("reserved"), "{err}");
        let mut v: serde_json::Value = serde_json::from_slice(SEED).unwrap();
        v["payload"]["environment"]["name"] = OVERFLOW.into();
        let err = parse(&serde_json::to_vec(&v).unwrap()).unwrap_err();
        assert_eq!(err.path, "$.payload.environment.name");
    }

    #[test]
    fn environment_falls_back_to_the_environments_array() {
        let mut v: serde_json::Value = serde_json::from_slice(SEED).unwrap();
        v["payload"].as_object_mut().unwrap().remove("environment");
        v["environments"] = serde_json::json!(["feature-x"]);
        let a = parse(&serde_json::to_vec(&v).unwrap()).unwrap();
        assert_eq!(a.environment, "feature-x");
        assert_eq!(a.environment_type, "unknown");
    }

    #[test]
    fn commits_fall_back_to_the_array_length() {
        let mut v: serde_json::Value = serde_json::from_slice(SEED).unwrap();
        v["payload"]
            .as_object_mut()
            .unwrap()
            .remove("commits_count");
        v["payload"]["commits"] = serde_json::json!([{}, {}, {"deep": [1, 2]}]);
        let a = parse(&serde_json::to_vec(&v).unwrap()).unwrap();
        assert_eq!(a.commits, Some(3));
    }

    #[test]
    fn deep_nesting_cannot_overflow_the_stack() {
        let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        let body = String::from_utf8(SEED.to_vec()).unwrap();
        let body = body.trim_end().strip_suffix('}').unwrap();
        // In an unknown field the value is skipped without recursion: accepted.
        let unknown = format!("{body},\"deep\":{deep}}}");
        assert!(parse(unknown.as_bytes()).is_ok());
        // Where an object is expected, an array is skipped without recursion too: absent.
        let timings = body.replacen("\"timings\"", "\"ignored\"", 1);
        let timings = format!("{timings},\"timings\":{deep}}}");
        assert_eq!(
            parse(timings.as_bytes()).unwrap().timings,
            Timings::default()
        );
        let without = |field: &str| {
            let mut v: serde_json::Value = serde_json::from_slice(SEED).unwrap();
            v.as_object_mut().unwrap().remove(field);
            let v = v.to_string();
            v.strip_suffix('}').unwrap().to_owned()
        };
        // The elements of an array that is only counted are skipped the same way.
        let commits = format!(
            "{},\"payload\":{{\"commits\":{deep}}}}}",
            without("payload")
        );
        assert_eq!(parse(commits.as_bytes()).unwrap().commits, Some(1));
        // Where a value is read, an array is refused at once, at that field.
        let id = format!("{},\"id\":{deep}}}", without("id"));
        assert_eq!(parse(id.as_bytes()).unwrap_err().path, "$.id");
    }

    /// PHP writes an empty map as `[]`: a `timings` or `payload` that is not an object is
    /// absent, never a 400, and never read by position.
    #[test]
    fn timings_and_payload_that_are_not_objects_are_absent() {
        for value in [
            serde_json::json!([]),
            serde_json::json!([1.5, 2.5, 3.5, 4.5]),
            serde_json::json!(null),
            serde_json::json!("x"),
        ] {
            let a = parse(&with("timings", value.clone())).unwrap();
            assert_eq!(a.timings, Timings::default(), "{value}");
            let a = parse(&with("payload", value.clone())).unwrap();
            assert_eq!(a.commits, None, "{value}");
            assert_eq!(a.environment_type, "unknown", "{value}: from environments");
        }
    }

    /// `commands` as the API lists them: a deploy hook that exited non-zero makes a `success` a
    /// failure, for the reason `command`; anything else in the list counts as no failure.
    #[test]
    fn a_command_that_exited_non_zero_makes_a_success_a_failure() {
        use serde_json::json;
        let cases = [
            (json!([{"app": "app", "type": "deploy", "exit_code": 0}]), 0),
            (
                json!([
                    {"app": "app", "type": "deploy", "exit_code": 0},
                    {"app": "app", "type": "post_deploy", "exit_code": 1},
                    {"app": "worker", "type": "deploy", "exit_code": 137}
                ]),
                2,
            ),
            // Still running, odd or absent codes, elements that are not objects.
            (
                json!([{"exit_code": null}, {"exit_code": "1"}, {}, [], 3, "x", null]),
                0,
            ),
            (json!([{"exit_code": -1}, {"exit_code": 2.0}]), 2),
            (json!({}), 0),
            (json!(null), 0),
            (json!("deploy"), 0),
        ];
        for (commands, failed) in cases {
            let a = parse(&with("commands", commands.clone())).unwrap();
            assert_eq!(a.failed_commands, failed, "{commands}");
            let (result, reason) = if failed > 0 {
                (ResultLabel::Failure, Some(FailureReason::Command))
            } else {
                (ResultLabel::Success, None)
            };
            assert_eq!(a.finished(), Some(result), "{commands}");
            assert_eq!(a.failure(), reason, "{commands}");
        }
    }

    #[test]
    fn platformsh_failure_reason_comes_before_a_failed_command() {
        use serde_json::json;
        let mut v: serde_json::Value = serde_json::from_slice(SEED).unwrap();
        v["result"] = json!("failure");
        v["commands"] = json!([{"app": "app", "type": "deploy", "exit_code": 1}]);
        for (failure_reason, expected) in [
            (json!("error"), FailureReason::Error),
            (json!("shell"), FailureReason::Shell),
            (json!("quota"), FailureReason::Unknown),
            (json!(null), FailureReason::Command),
            (json!(""), FailureReason::Command),
            (json!(42), FailureReason::Command),
        ] {
            v["failure_reason"] = failure_reason.clone();
            let a = parse(&serde_json::to_vec(&v).unwrap()).unwrap();
            assert_eq!(a.failure(), Some(expected), "{failure_reason}");
        }
        v["commands"] = json!([]);
        v["failure_reason"] = json!(null);
        let a = parse(&serde_json::to_vec(&v).unwrap()).unwrap();
        assert_eq!(a.failure(), Some(FailureReason::Unknown));
        v["state"] = json!("cancelled");
        v["failure_reason"] = json!("error");
        let a = parse(&serde_json::to_vec(&v).unwrap()).unwrap();
        assert_eq!(a.failure(), Some(FailureReason::Cancelled));
    }

    /// A sync, a branch and an initialize happen to `payload.outcome`; without one, to the
    /// environment `environments` lists, typed by `payload.environment` only if that names the
    /// same environment (a sync's names the parent it copied from).
    #[test]
    fn syncs_branches_and_initializes_are_labelled_with_the_outcome() {
        for kind in OUTCOME_NAMES_THE_ENVIRONMENT {
            let mut v: serde_json::Value = serde_json::from_slice(SEED).unwrap();
            v["type"] = kind.into();
            v["environments"] = serde_json::json!(["pr-7"]);
            v["payload"]["environment"]["name"] = "main".into();
            v["payload"]["environment"]["type"] = "production".into();
            v["payload"]["outcome"] = serde_json::json!({"name": "pr-7", "type": "development"});
            let a = parse(&serde_json::to_vec(&v).unwrap()).unwrap();
            assert_eq!(
                (a.environment.as_str(), a.environment_type.as_str()),
                ("pr-7", "development"),
                "{kind}"
            );

            v["payload"]["outcome"] = serde_json::Value::Null;
            let a = parse(&serde_json::to_vec(&v).unwrap()).unwrap();
            assert_eq!(
                (a.environment.as_str(), a.environment_type.as_str()),
                ("pr-7", "unknown"),
                "{kind}"
            );

            v["payload"]["environment"]["name"] = "pr-7".into();
            v["payload"]["environment"]["type"] = "staging".into();
            let a = parse(&serde_json::to_vec(&v).unwrap()).unwrap();
            assert_eq!(
                (a.environment.as_str(), a.environment_type.as_str()),
                ("pr-7", "staging"),
                "{kind}"
            );
        }
    }

    /// A merge deploys the environment merged into: `payload.environment` describes
    /// that target, `payload.outcome` the child, and `environments` and `parameters` may name
    /// both in either order. The `environment` label is the target, whatever the order.
    #[test]
    fn a_merge_is_labelled_with_the_environment_it_deploys() {
        let mut v: serde_json::Value = serde_json::from_slice(SEED).unwrap();
        v["type"] = "environment.merge".into();
        v["payload"]["environment"]["name"] = "main".into();
        v["payload"]["environment"]["type"] = "production".into();
        v["payload"]["outcome"] = serde_json::json!({"name": "feature-x", "type": "development"});
        v["environments"] = serde_json::json!(["feature-x", "main"]);
        v["parameters"] = serde_json::json!({"from": "feature-x", "into": "main"});
        let a = parse(&serde_json::to_vec(&v).unwrap()).unwrap();
        assert_eq!(
            (a.environment.as_str(), a.environment_type.as_str()),
            ("main", "production")
        );
        assert_eq!(a.merged_child.as_deref(), Some("feature-x"));

        // Without `payload.environment` and `payload.outcome`: `parameters` say which is which,
        // whatever the order of `environments`.
        v["payload"] = serde_json::json!({});
        let a = parse(&serde_json::to_vec(&v).unwrap()).unwrap();
        assert_eq!(
            (a.environment.as_str(), a.merged_child.as_deref()),
            ("main", Some("feature-x"))
        );
        // `parameters` of another shape cost nothing.
        v["parameters"] = serde_json::json!({"from": {"id": 1}, "into": ["x"]});
        let a = parse(&serde_json::to_vec(&v).unwrap()).unwrap();
        assert_eq!(
            (a.environment.as_str(), a.merged_child.as_deref()),
            ("feature-x", None)
        );
        // Only merges have a child: a push's parameters name no merge.
        v["type"] = "environment.push".into();
        v["parameters"] = serde_json::json!({"from": "feature-x", "into": "main"});
        let a = parse(&serde_json::to_vec(&v).unwrap()).unwrap();
        assert_eq!(
            (a.environment.as_str(), a.merged_child.as_deref()),
            ("feature-x", None)
        );
    }

    #[test]
    fn the_parser_keeps_at_most_the_commit_ceiling_and_counts_the_rest() {
        let commits: Vec<String> = (0..MAX_COMMITS_PER_PUSH + 5)
            .map(|i| format!("{{\"sha\":\"{i:040x}\"}}"))
            .chain(["{\"sha\":\"not a sha\"}".to_owned()])
            .collect();
        let body = format!(
            "{{\"id\":\"a\",\"type\":\"environment.push\",\"project\":\"p\",\
             \"state\":\"complete\",\"result\":\"success\",\
             \"payload\":{{\"commits\":[{}]}}}}",
            commits.join(",")
        );
        let mut a = parse(body.as_bytes()).unwrap();
        assert_eq!(a.commits, Some(MAX_COMMITS_PER_PUSH as u64 + 6));
        assert_eq!(a.commit_list.len(), MAX_COMMITS_PER_PUSH);
        assert_eq!(a.commits_dropped, 5);
        a.limit_commits(10);
        assert_eq!(
            (a.commit_list.len(), a.commits_dropped),
            (10, MAX_COMMITS_PER_PUSH as u64 - 5)
        );
    }
}
