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

use crate::activity::{Activity, ActivityResult, ActivityState, DeliveryMode};

/// One integration as the API lists it (every type; only webhooks send activities here). Its
/// `shared_key` is never read: the API may or may not return it, and it must not be kept.
#[derive(Debug, Clone, Deserialize)]
pub struct Integration {
    #[serde(default)]
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub url: Option<String>,
    #[serde(default)]
    pub events: Option<Vec<String>>,
    #[serde(default)]
    pub states: Option<Vec<String>>,
    #[serde(default)]
    pub environments: Option<Vec<String>>,
    #[serde(default)]
    pub excluded_environments: Option<Vec<String>>,
    #[serde(default)]
    pub result: Option<String>,
    /// HAL links: `#validate` among them where the integration can be validated.
    #[serde(default, rename = "_links")]
    pub links: Option<serde_json::Map<String, serde_json::Value>>,
}

/// How a project's activities reach this exporter: the webhook integrations that send to it,
/// or none (the poller is the only source), or unknown (its integrations cannot be read).
#[derive(Debug, Clone)]
pub enum Delivery {
    Webhook(Vec<Integration>),
    ApiOnly,
    Unknown,
}

impl Delivery {
    /// From the project's integrations, if they could be read: those pointing at
    /// `public_url`, or without one, every webhook integration, are this exporter's.
    pub fn of(integrations: Option<Vec<Integration>>, public_url: Option<&reqwest::Url>) -> Self {
        let Some(integrations) = integrations else {
            return Delivery::Unknown;
        };
        let ours: Vec<Integration> = integrations
            .into_iter()
            .filter(|i| i.is_webhook() && public_url.is_none_or(|url| i.points_at(url)))
            .collect();
        if ours.is_empty() {
            Delivery::ApiOnly
        } else {
            Delivery::Webhook(ours)
        }
    }

    pub fn mode(&self) -> DeliveryMode {
        match self {
            Delivery::Webhook(_) => DeliveryMode::Webhook,
            Delivery::ApiOnly => DeliveryMode::ApiOnly,
            Delivery::Unknown => DeliveryMode::Unknown,
        }
    }

    /// Whether an activity found by polling, undelivered, should have been delivered: not
    /// when no integration of ours sends it; when the integrations are unknown, yes.
    pub fn should_have_sent(&self, activity: &Activity) -> bool {
        match self {
            Delivery::Webhook(ours) => any_sends(ours, activity),
            Delivery::ApiOnly => false,
            Delivery::Unknown => true,
        }
    }
}

impl Integration {
    pub fn is_webhook(&self) -> bool {
        self.kind == "webhook"
    }

    /// Whether this integration posts to `url`: same scheme, host, port (default ports
    /// spelled or not), path (a trailing slash aside) and query.
    pub fn points_at(&self, url: &reqwest::Url) -> bool {
        self.url
            .as_deref()
            .and_then(|u| reqwest::Url::parse(u.trim()).ok())
            .is_some_and(|mine| same_url(&mine, url))
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

/// Two URLs name the same endpoint (see [`Integration::points_at`]).
pub fn same_url(a: &reqwest::Url, b: &reqwest::Url) -> bool {
    a.scheme() == b.scheme()
        && a.host_str() == b.host_str()
        && a.port_or_known_default() == b.port_or_known_default()
        && a.path().trim_end_matches('/') == b.path().trim_end_matches('/')
        && a.query() == b.query()
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

    #[test]
    fn an_integration_is_ours_when_it_points_at_the_public_url() {
        let url = |s: &str| reqwest::Url::parse(s).unwrap();
        let ours = url("https://exporter.example.com/webhook");
        let at = |u: &str| webhook(&serde_json::json!({"url": u}));
        assert!(at("https://exporter.example.com/webhook").points_at(&ours));
        assert!(at("https://EXPORTER.example.com:443/webhook/").points_at(&ours));
        assert!(!at("http://exporter.example.com/webhook").points_at(&ours));
        assert!(!at("https://exporter.example.com:8443/webhook").points_at(&ours));
        assert!(!at("https://exporter.example.com/other").points_at(&ours));
        assert!(!at("https://chat.example.com/webhook").points_at(&ours));
        assert!(!at("not a url").points_at(&ours));

        let elsewhere = at("https://chat.example.com/hook");
        let read = || Some(vec![elsewhere.clone()]);
        // Without a public URL, any webhook integration is taken for ours.
        assert_eq!(Delivery::of(read(), None).mode(), DeliveryMode::Webhook);
        assert_eq!(
            Delivery::of(read(), Some(&ours)).mode(),
            DeliveryMode::ApiOnly
        );
        assert_eq!(
            Delivery::of(None, Some(&ours)).mode(),
            DeliveryMode::Unknown
        );
        let both = Some(vec![
            elsewhere.clone(),
            at("https://exporter.example.com/webhook"),
        ]);
        assert!(matches!(Delivery::of(both, Some(&ours)), Delivery::Webhook(v) if v.len() == 1));
        let push = activity(
            "environment.push",
            ActivityState::Complete,
            Some(ActivityResult::Success),
        );
        assert!(!Delivery::ApiOnly.should_have_sent(&push));
        assert!(Delivery::Unknown.should_have_sent(&push));
    }
}
