//! `platformsh-exporter setup`: every watched project gets exactly one webhook integration
//! pointing at this exporter with its shared key and every state, event and environment
//! (README, Setup). A dry run by default; `--apply` carries the plan out, then re-reads each
//! project's integrations to verify, and asks the API to validate the integration where it
//! links a way to.
//!
//! The shared key goes into the body of the create or update request and nowhere else: not
//! into output, logs or error messages (an API error that echoes it is scrubbed).

mod plan;

use std::fmt::Write;

use serde::Serialize;
use serde_json::Value;

use crate::reconcile::discovery::{self, next_page};
use crate::reconcile::{self, ApiError, Client, encode};
use crate::telemetry::Telemetry;
use crate::verify::SharedKey;
pub use plan::{KeyCheck, Plan, STATES, Step};

/// What `setup` was asked to do.
#[derive(Debug)]
pub struct Options {
    /// The API token, URLs and projects, as reconciliation has them.
    pub api: reconcile::Settings,
    /// `--webhook.public-url`.
    pub url: reqwest::Url,
    pub key: Option<SharedKey>,
    pub apply: bool,
    /// Send the key to an integration that points here even when nothing else differs.
    pub set_key: bool,
}

/// What became of one project.
#[derive(Debug, Serialize)]
pub struct Outcome {
    pub project: String,
    /// The plan; empty when the project's integrations could not be read.
    pub steps: Vec<Step>,
    pub key: Option<KeyCheck>,
    /// Why the project could not be set up (reading, applying or verifying), if it could not.
    pub error: Option<String>,
    /// With `--apply`: whether the plan was carried out and a fresh read found nothing left
    /// to do.
    pub verified: Option<bool>,
    /// With `--apply`: what the integration's `#validate` link answered (`valid`,
    /// `invalid: …`, `not offered`: the API links no way to validate it).
    pub validation: Option<String>,
}

/// The whole run.
#[derive(Debug, Serialize)]
pub struct Report {
    pub url: String,
    pub applied: bool,
    pub projects: Vec<Outcome>,
}

impl Report {
    /// Whether every project is (or, in a dry run, can be) set up.
    pub fn ok(&self) -> bool {
        self.projects.iter().all(|p| p.error.is_none())
    }
}

/// Runs setup against the API; `Err` only when no project could even be listed.
pub async fn run(options: &Options) -> Result<Report, String> {
    let client = Client::new(&options.api, Telemetry::new().api().clone())?;
    let scrub = |e: &dyn std::fmt::Display| scrub(&e.to_string(), options.key.as_ref());
    let projects = discovery::projects(&client, &options.api.projects)
        .await
        .map_err(|e| format!("cannot list the projects: {}", scrub(&e)))?;
    let mut report = Report {
        url: options.url.to_string(),
        applied: options.apply,
        projects: Vec::new(),
    };
    for project in projects {
        let outcome = set_up(&client, options, &project).await;
        let outcome = Outcome {
            error: outcome.error.map(|e| scrub(&e)),
            validation: outcome.validation.map(|v| scrub(&v)),
            ..outcome
        };
        report.projects.push(outcome);
    }
    Ok(report)
}

/// One project: read, plan, and with `--apply` carry out, verify and validate.
async fn set_up(client: &Client, options: &Options, project: &str) -> Outcome {
    let mut outcome = Outcome {
        project: project.to_owned(),
        steps: Vec::new(),
        key: None,
        error: None,
        verified: None,
        validation: None,
    };
    let key = options.key.as_ref();
    let listed = match integrations(client, project).await {
        Ok(listed) => listed,
        Err(e) => {
            outcome.error = Some(cannot("read its integrations", &e));
            return outcome;
        }
    };
    let plan = plan::plan(&listed, &options.url, key, options.set_key);
    outcome.steps.clone_from(&plan.steps);
    outcome.key = Some(plan.key);
    if !options.apply {
        return outcome;
    }
    if let Err(e) = carry_out(client, options, project, &plan).await {
        outcome.error = Some(e);
        return outcome;
    }
    // Verify: a fresh read must leave nothing to do (the key aside: it may not be shown).
    let again = match integrations(client, project).await {
        Ok(listed) => plan::plan(&listed, &options.url, key, false),
        Err(e) => {
            outcome.error = Some(cannot("read its integrations again", &e));
            return outcome;
        }
    };
    let verified = !again.changes();
    outcome.verified = Some(verified);
    if !verified {
        outcome.error = Some(format!(
            "after applying, the integrations still differ: {}",
            describe(&again.steps)
        ));
        return outcome;
    }
    if let Some(Step::Nothing { integration }) = again.steps.first() {
        let listed = integrations(client, project).await.unwrap_or_default();
        outcome.validation = Some(validate(client, project, integration, &listed).await);
    }
    outcome
}

/// The project's integrations, as the API lists them (a bare array).
async fn integrations(client: &Client, project: &str) -> Result<Vec<Value>, ApiError> {
    let path = format!("/projects/{}/integrations", encode(project));
    client.json("integrations", &path).await
}

/// Sends the plan's changes, in order; the first failure stops the project.
async fn carry_out(
    client: &Client,
    options: &Options,
    project: &str,
    plan: &Plan,
) -> Result<(), String> {
    let list = format!("/projects/{}/integrations", encode(project));
    let wanted = plan::wanted(&options.url);
    let with_key = |mut body: serde_json::Map<String, Value>| {
        if let Some(key) = &options.key {
            body.insert("shared_key".into(), Value::from(key.expose()));
        }
        Value::Object(body)
    };
    for step in &plan.steps {
        let (method, path, body, what) = match step {
            Step::Nothing { .. } => continue,
            Step::Create => (
                reqwest::Method::POST,
                list.clone(),
                Some(with_key(wanted.clone())),
                "create the webhook integration".to_owned(),
            ),
            Step::Update {
                integration,
                fields,
            } => {
                // Only the fields that differ (`shared_key` is not among the wanted settings).
                let body: serde_json::Map<String, Value> = fields
                    .iter()
                    .filter_map(|f| Some(((*f).to_owned(), wanted.get(*f)?.clone())))
                    .collect();
                let body = if fields.contains(&"shared_key") {
                    with_key(body)
                } else {
                    Value::Object(body)
                };
                (
                    reqwest::Method::PATCH,
                    format!("{list}/{}", encode(integration)),
                    Some(body),
                    format!("update integration {integration}"),
                )
            }
            Step::Remove { integration } => (
                reqwest::Method::DELETE,
                format!("{list}/{}", encode(integration)),
                None,
                format!("remove the duplicate integration {integration}"),
            ),
        };
        client
            .send(method, "integrations", &path, body.as_ref())
            .await
            .map_err(|e| cannot(&what, &e))?;
    }
    Ok(())
}

/// Asks the API to validate the integration, by its `#validate` link (the vendor's PHP
/// client's way; the path is not in the public specification, so only the link is followed,
/// and only within the API).
async fn validate(client: &Client, project: &str, id: &str, listed: &[Value]) -> String {
    let href = listed
        .iter()
        .find(|i| i["id"] == id)
        .and_then(|i| i["_links"]["#validate"]["href"].as_str());
    let Some(href) = href else {
        return "not offered".into();
    };
    let here = format!("/projects/{}/integrations/{}", encode(project), encode(id));
    let Some(path) = next_page(client.api_url(), &here, href) else {
        return "not offered (its link leads outside the API)".into();
    };
    match client
        .send(reqwest::Method::POST, "integrations", &path, None)
        .await
    {
        Ok(_) => "valid".into(),
        Err(ApiError::Status {
            status: 400,
            message,
            ..
        }) => format!("invalid: {message}"),
        Err(e) => format!("could not be validated: {e}"),
    }
}

/// An error of one project, with what was being done and, for a refusal, why it may be.
fn cannot(what: &str, error: &ApiError) -> String {
    match error {
        ApiError::Status { status: 403, .. } => format!(
            "cannot {what}: the API token has no right to (403); only a project admin can \
             manage integrations"
        ),
        e => format!("cannot {what}: {e}"),
    }
}

/// `text` with every occurrence of the shared key replaced.
fn scrub(text: &str, key: Option<&SharedKey>) -> String {
    match key {
        Some(key) if !key.expose().is_empty() => text.replace(key.expose(), "<shared key>"),
        _ => text.to_owned(),
    }
}

/// The steps, in words.
fn describe(steps: &[Step]) -> String {
    steps
        .iter()
        .map(|s| match s {
            Step::Create => "create a webhook integration".to_owned(),
            Step::Update {
                integration,
                fields,
            } => format!("update {integration}: {}", fields.join(", ")),
            Step::Nothing { integration } => format!("{integration} is as it should be"),
            Step::Remove { integration } => format!("remove {integration} (a second one here)"),
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// The report as a table, one line per project.
pub fn table(report: &Report) -> String {
    let mut rows = vec![[
        "PROJECT".to_owned(),
        "PLAN".to_owned(),
        "SHARED KEY".to_owned(),
        if report.applied { "RESULT" } else { "" }.to_owned(),
    ]];
    for p in &report.projects {
        let key = match p.key {
            None => "",
            Some(KeyCheck::None) => "none (deliveries not signed)",
            Some(KeyCheck::Sent) => "sent",
            Some(KeyCheck::Matches) => "matches",
            Some(KeyCheck::Unknown) => "not shown by the API (--set-key sends it)",
        };
        let result = match (&p.error, p.verified) {
            (Some(e), _) => format!("FAILED: {e}"),
            (None, Some(true)) => format!(
                "done, verified; validation: {}",
                p.validation.as_deref().unwrap_or("not offered")
            ),
            _ => String::new(),
        };
        let plan = if p.steps.is_empty() {
            "-".to_owned()
        } else {
            describe(&p.steps)
        };
        rows.push([p.project.clone(), plan, key.to_owned(), result]);
    }
    let widths: Vec<usize> = (0..3)
        .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for row in rows {
        let mut line = String::new();
        for (c, width) in widths.iter().enumerate() {
            let _ = write!(line, "{:<width$}  ", row[c]);
        }
        line.push_str(&row[3]);
        out.push_str(line.trim_end());
        out.push('\n');
    }
    if !report.applied {
        out.push_str("(dry run: nothing was changed; --apply carries the plan out)\n");
    }
    out
}
