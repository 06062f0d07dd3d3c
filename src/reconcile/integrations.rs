//! Which activities a project's webhook integrations are configured to send, so that polling
//! counts as missed only what one of them should have delivered (a cancelled activity, with the
//! default `states: ["complete"]`, was never meant to be sent). Pure: the poller reads the list
//! (`GET /projects/{id}/integrations`) and asks.
//!
//! The filters and their defaults are the vendor CLI's (`../shared/reference/platformsh-api.md`,
//! Integrations): `events ["*"]`, `states ["complete"]`, `environments ["*"]`,
//! `excluded_environments []`, `result "*"`; the server's defaults for omitted fields are
//! undocumented, so an absent filter takes the CLI's.

use serde::Deserialize;

use crate::activity::{Activity, ActivityResult, ActivityState};

/// One integration as the API lists it (every type; only webhooks send activities here).
#[derive(Debug, Clone, Deserialize)]
pub struct Integration {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    events: Option<Vec<String>>,
    #[serde(default)]
    states: Option<Vec<String>>,
    #[serde(default)]
    environments: Option<Vec<String>>,
    #[serde(default)]
    excluded_environments: Option<Vec<String>>,
    #[serde(default)]
    result: Option<String>,
}

impl Integration {
    pub fn is_webhook(&self) -> bool {
        self.kind == "webhook"
    }

    /// Whether this integration sends `activity` in its current state.
    pub fn sends(&self, activity: &Activity) -> bool {
        let any = |patterns: &Option<Vec<String>>, default: &str, value: &str| match patterns {
            Some(patterns) => patterns.iter().any(|p| glob(p, value)),
            None => glob(default, value),
        };
        let excluded = self
            .excluded_environments
            .iter()
            .flatten()
            .any(|p| glob(p, &activity.environment));
        // Platform.sh reports a cancelled activity's result as `failure`.
        let result = match (activity.state, activity.result) {
            (ActivityState::Cancelled, _) | (_, Some(ActivityResult::Failure)) => "failure",
            (_, Some(ActivityResult::Success)) => "success",
            (_, None) => "",
        };
        self.is_webhook()
            && any(&self.events, "*", &activity.kind)
            && any(&self.states, "complete", activity.state.as_str())
            && (activity.environment.is_empty()
                || any(&self.environments, "*", &activity.environment))
            && !excluded
            && self
                .result
                .as_deref()
                .is_none_or(|r| r == "*" || r == result)
    }
}

/// Whether any of `integrations` sends `activity`.
pub fn any_sends(integrations: &[Integration], activity: &Activity) -> bool {
    integrations.iter().any(|i| i.sends(activity))
}

/// `*` matches any run of characters (as Platform.sh's event and environment patterns use it:
/// `*`, `environment.*`, `pr-*`); every other character itself.
fn glob(pattern: &str, text: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == text,
        Some((head, rest)) => {
            let Some(mut tail) = text.strip_prefix(head) else {
                return false;
            };
            if rest.is_empty() {
                return true;
            }
            loop {
                if glob(rest, tail) {
                    return true;
                }
                let mut chars = tail.chars();
                if chars.next().is_none() {
                    return false;
                }
                tail = chars.as_str();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn activity(kind: &str, state: ActivityState, result: Option<ActivityResult>) -> Activity {
        let seed = crate::activity::parse(include_bytes!(
            "../../tests/fixtures/push-success-seed.json"
        ))
        .unwrap();
        Activity {
            kind: kind.into(),
            state,
            result,
            ..seed
        }
    }

    fn webhook(json: &serde_json::Value) -> Integration {
        let mut v = serde_json::json!({"type": "webhook", "url": "https://x.example/webhook"});
        v.as_object_mut()
            .unwrap()
            .extend(json.as_object().unwrap().clone());
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn patterns_match_as_platformsh_writes_them() {
        assert!(glob("*", "environment.push"));
        assert!(glob("environment.*", "environment.push"));
        assert!(!glob("environment.*", "project.domain.create"));
        assert!(glob("pr-*", "pr-12"));
        assert!(glob("*-x", "a-x"));
        assert!(!glob("main", "main2"));
        assert!(glob("a*b*c", "aXbYc"));
    }

    #[test]
    fn by_default_only_complete_activities_are_sent() {
        let defaults = webhook(&serde_json::json!({}));
        let push = |state, result| activity("environment.push", state, result);
        assert!(defaults.sends(&push(
            ActivityState::Complete,
            Some(ActivityResult::Success)
        )));
        assert!(!defaults.sends(&push(
            ActivityState::Cancelled,
            Some(ActivityResult::Failure)
        )));
        assert!(!defaults.sends(&push(ActivityState::InProgress, None)));
        let all = webhook(&serde_json::json!({"states": ["*"]}));
        assert!(all.sends(&push(
            ActivityState::Cancelled,
            Some(ActivityResult::Failure)
        )));
    }

    #[test]
    fn events_environments_and_result_filter() {
        let ok = activity(
            "environment.push",
            ActivityState::Complete,
            Some(ActivityResult::Success),
        );
        // The seed's environment is `master`.
        let cases = [
            (serde_json::json!({"events": ["environment.*"]}), true),
            (serde_json::json!({"events": ["environment.cron"]}), false),
            (serde_json::json!({"environments": ["master"]}), true),
            (serde_json::json!({"environments": ["pr-*"]}), false),
            (
                serde_json::json!({"excluded_environments": ["mas*"]}),
                false,
            ),
            (serde_json::json!({"result": "failure"}), false),
            (serde_json::json!({"result": "success"}), true),
            (serde_json::json!({"type": "health.email"}), false),
        ];
        for (filters, sends) in cases {
            assert_eq!(webhook(&filters).sends(&ok), sends, "{filters}");
        }
    }
}
