//! What `setup` would do to one project's integrations so that exactly one webhook points at
//! this exporter with the settings it needs (pure: `setup` reads the list and carries it out).
//!
//! The settings are those the exporter uses: every state (so unfinished activities and staged
//! deployments are seen), every event, every environment, none excluded, any result. An
//! integration pointing elsewhere is never touched; one pointing here with other settings is
//! updated (only the fields that differ, as the vendor CLI's `integration:update` does);
//! further ones pointing here are removed (each would deliver everything twice).

use serde::Serialize;
use serde_json::{Value, json};

use crate::reconcile::integrations::Integration;
use crate::verify::SharedKey;

/// Every activity state (`../shared/reference/platformsh-api.md`, Activities: fields).
pub const STATES: [&str; 6] = [
    "pending",
    "scheduled",
    "staged",
    "in_progress",
    "complete",
    "cancelled",
];

/// One change to a project's integrations.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Step {
    /// No integration points here: create one.
    Create,
    /// The integration points here with other settings: send these fields.
    Update {
        integration: String,
        fields: Vec<&'static str>,
    },
    /// The integration points here as it should.
    Nothing { integration: String },
    /// Another integration points here too: remove it.
    Remove { integration: String },
}

/// What can be said of the shared key of the integration that points here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyCheck {
    /// The exporter has no shared key: deliveries are not authenticated.
    None,
    /// Sent with the create or update.
    Sent,
    /// The API showed the integration's key, and it is the exporter's.
    Matches,
    /// The API does not show it (or shows another value, perhaps masked): it cannot be
    /// compared; `--set-key` sends it.
    Unknown,
}

/// The plan for one project.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub steps: Vec<Step>,
    pub key: KeyCheck,
}

impl Plan {
    /// Whether carrying it out changes anything.
    pub fn changes(&self) -> bool {
        self.steps
            .iter()
            .any(|s| !matches!(s, Step::Nothing { .. }))
    }
}

/// The integration settings the exporter needs, as the API takes them (`type` and `url`
/// included, for a create).
pub fn wanted(url: &reqwest::Url) -> serde_json::Map<String, Value> {
    let Value::Object(settings) = json!({
        "type": "webhook",
        "url": url.as_str(),
        "events": ["*"],
        "states": STATES,
        "environments": ["*"],
        "excluded_environments": [],
        "result": "*",
    }) else {
        unreachable!("a JSON object literal")
    };
    settings
}

/// The plan for a project whose integrations are `listed` (the API's JSON, every type).
pub fn plan(listed: &[Value], url: &reqwest::Url, key: Option<&SharedKey>, set_key: bool) -> Plan {
    let ours: Vec<(&Value, Integration)> = listed
        .iter()
        .filter_map(|raw| Some((raw, serde_json::from_value(raw.clone()).ok()?)))
        .filter(|(_, i): &(&Value, Integration)| i.is_webhook() && i.points_at(url))
        .collect();
    let Some(((raw, first), others)) = ours.split_first() else {
        let key = if key.is_some() {
            KeyCheck::Sent
        } else {
            KeyCheck::None
        };
        return Plan {
            steps: vec![Step::Create],
            key,
        };
    };
    let mut fields = differing(first);
    let shown = raw.get("shared_key").and_then(Value::as_str);
    let key = match key {
        None => KeyCheck::None,
        Some(key) if shown == Some(key.expose()) => KeyCheck::Matches,
        Some(_) if set_key => {
            fields.push("shared_key");
            KeyCheck::Sent
        }
        Some(_) if !fields.is_empty() => {
            // An update is sent anyway: the key goes with it, so it is known to match.
            fields.push("shared_key");
            KeyCheck::Sent
        }
        Some(_) => KeyCheck::Unknown,
    };
    let integration = first.id.clone();
    let mut steps = vec![if fields.is_empty() {
        Step::Nothing { integration }
    } else {
        Step::Update {
            integration,
            fields,
        }
    }];
    steps.extend(others.iter().map(|(_, i)| Step::Remove {
        integration: i.id.clone(),
    }));
    Plan { steps, key }
}

/// The fields of `integration` that differ from [`wanted`]; an absent filter is the vendor
/// CLI's default (events, environments `*`, states `complete`, none excluded, any result).
fn differing(integration: &Integration) -> Vec<&'static str> {
    let has = |list: &Option<Vec<String>>, default: &[&str], value: &str| {
        list.as_ref().map_or_else(
            || default.contains(&value),
            |l| l.iter().any(|v| v == value),
        )
    };
    let mut fields = Vec::new();
    if !has(&integration.events, &["*"], "*") {
        fields.push("events");
    }
    let all_states = has(&integration.states, &["complete"], "*")
        || STATES
            .iter()
            .all(|s| has(&integration.states, &["complete"], s));
    if !all_states {
        fields.push("states");
    }
    if !has(&integration.environments, &["*"], "*") {
        fields.push("environments");
    }
    if integration
        .excluded_environments
        .as_ref()
        .is_some_and(|e| !e.is_empty())
    {
        fields.push("excluded_environments");
    }
    if integration.result.as_deref().is_some_and(|r| r != "*") {
        fields.push("result");
    }
    fields
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url() -> reqwest::Url {
        reqwest::Url::parse("https://exporter.example.com/webhook").unwrap()
    }

    fn ours(id: &str, extra: &Value) -> Value {
        let mut v = Value::Object(wanted(&url()));
        v["id"] = json!(id);
        for (k, x) in extra.as_object().unwrap() {
            v[k] = x.clone();
        }
        v
    }

    #[test]
    fn no_integration_here_is_created_and_one_elsewhere_left_alone() {
        let elsewhere =
            json!({"id": "chat", "type": "webhook", "url": "https://chat.example.com/x"});
        let email = json!({"id": "mail", "type": "health.email"});
        let key = SharedKey::new("k");
        let plan = plan(&[elsewhere, email], &url(), Some(&key), false);
        assert_eq!(plan.steps, vec![Step::Create]);
        assert_eq!(plan.key, KeyCheck::Sent);
    }

    #[test]
    fn one_here_with_other_settings_is_updated_in_those_fields_only() {
        let listed = [ours(
            "w1",
            &json!({"states": ["complete"], "excluded_environments": ["pr-*"]}),
        )];
        let plan = plan(&listed, &url(), None, false);
        assert_eq!(
            plan.steps,
            vec![Step::Update {
                integration: "w1".into(),
                fields: vec!["states", "excluded_environments"],
            }]
        );
        assert_eq!(plan.key, KeyCheck::None);
    }

    #[test]
    fn a_key_the_api_does_not_show_is_unknown_unless_sent() {
        let key = SharedKey::new("k");
        let listed = [ours("w1", &json!({"shared_key": null}))];
        let quiet = plan(&listed, &url(), Some(&key), false);
        assert_eq!(
            (quiet.steps.clone(), quiet.key),
            (
                vec![Step::Nothing {
                    integration: "w1".into()
                }],
                KeyCheck::Unknown
            )
        );
        assert!(!quiet.changes());
        let sent = plan(&listed, &url(), Some(&key), true);
        assert_eq!(sent.key, KeyCheck::Sent);
        assert!(sent.changes());
        let shown = [ours("w1", &json!({"shared_key": "k"}))];
        assert_eq!(
            plan(&shown, &url(), Some(&key), false).key,
            KeyCheck::Matches
        );
    }

    #[test]
    fn a_second_integration_here_is_removed() {
        let listed = [ours("w1", &json!({})), ours("w2", &json!({}))];
        let plan = plan(&listed, &url(), None, false);
        assert_eq!(
            plan.steps,
            vec![
                Step::Nothing {
                    integration: "w1".into()
                },
                Step::Remove {
                    integration: "w2".into()
                }
            ]
        );
    }

    /// Absent filters take the CLI's defaults: `states` then means `complete` only.
    #[test]
    fn absent_filters_are_the_cli_defaults() {
        let bare = json!({"id": "w1", "type": "webhook", "url": url().as_str()});
        let plan = plan(&[bare], &url(), None, false);
        assert_eq!(
            plan.steps,
            vec![Step::Update {
                integration: "w1".into(),
                fields: vec!["states"],
            }]
        );
    }
}
