//! A test double of the Platform.sh API, on 127.0.0.1: the token exchange and the activity
//! listing with the documented paging rules (newest first by `created_at`, `starts_at` an
//! inclusive upper bound, a server-side page cap), access tokens that expire, a 500 now and
//! then, the project resource and project discovery. It follows
//! `shared/reference/platformsh-api.md`; it is not the real API.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};

pub const API_TOKEN: &str = "api-token-0123456789";

/// What the double serves and how it misbehaves.
#[derive(Debug)]
pub struct Behaviour {
    /// Activities by project, in any order.
    pub activities: HashMap<String, Vec<Value>>,
    /// Most activities a page holds, whatever `count` asks.
    pub page_cap: usize,
    /// Requests an access token is good for; then it answers 401.
    pub token_uses: usize,
    /// Every `fail_every`-th activity listing answers 500 (0: never).
    pub fail_every: usize,
    /// Time taken by each activity listing.
    pub delay: Duration,
    /// Activity listings (counted from 1) answered with an empty page, as an API having a
    /// bad moment might.
    pub empty_listings: Vec<usize>,
    /// Projects per page of `extended-access` (0: all on one page). Pages are linked as the
    /// API links them (`_links.next.href`), the first by an absolute path, the next ones by a
    /// path relative to the page.
    pub access_page: usize,
    /// Each project's integrations (`GET /projects/{id}/integrations`, a bare array as the
    /// API answers it); a project without an entry answers 403, as to a token without the
    /// right to read them. Created, updated and removed (POST, PATCH, DELETE) as the facts
    /// sheet describes: the answer wraps the stored integration in `_embedded.entity`; each
    /// webhook links `#validate`, which answers 400 with `detail` for a URL that is not https.
    pub integrations: HashMap<String, Value>,
    /// Whether listed integrations show their `shared_key` (the facts sheet cannot say
    /// whether the API does: by default the double does not).
    pub show_keys: bool,
}

impl Default for Behaviour {
    fn default() -> Self {
        Self {
            activities: HashMap::new(),
            page_cap: 10,
            token_uses: 1000,
            fail_every: 0,
            delay: Duration::ZERO,
            empty_listings: Vec::new(),
            access_page: 0,
            integrations: HashMap::new(),
            show_keys: false,
        }
    }
}

#[derive(Debug, Default)]
pub struct Seen {
    /// Access tokens handed out.
    pub exchanges: usize,
    pub listings: usize,
    /// Every request's method, path and query (never a body).
    pub requests: Vec<String>,
    pub integrations_created: usize,
}

#[derive(Debug, Default)]
struct Inner {
    behaviour: Behaviour,
    seen: Seen,
    tokens: HashMap<String, usize>,
}

type Shared = Arc<Mutex<Inner>>;

/// The running double.
#[derive(Debug)]
pub struct ApiDouble {
    pub url: String,
    inner: Shared,
    handle: tokio::task::JoinHandle<()>,
}

impl Drop for ApiDouble {
    fn drop(&mut self) {
        self.handle.abort();
    }
}

impl ApiDouble {
    pub async fn start(behaviour: Behaviour) -> Self {
        let inner = Arc::new(Mutex::new(Inner {
            behaviour,
            ..Inner::default()
        }));
        let router = Router::new()
            .route("/oauth2/token", post(token))
            .route("/projects/{project}/activities", get(activities))
            .route("/projects/{project}", get(project))
            .route(
                "/projects/{project}/integrations",
                get(integrations).post(create_integration),
            )
            .route(
                "/projects/{project}/integrations/{id}",
                axum::routing::patch(update_integration).delete(remove_integration),
            )
            .route(
                "/projects/{project}/integrations/{id}/validate",
                post(validate_integration),
            )
            .route("/users/me", get(me))
            .route("/organizations/{organization}", get(organization))
            .route("/users/{user}/extended-access", get(access))
            .with_state(Arc::clone(&inner));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr: SocketAddr = listener.local_addr().unwrap();
        let handle = tokio::spawn(async move {
            axum::serve(listener, router).await.unwrap();
        });
        Self {
            url: format!("http://{addr}"),
            inner,
            handle,
        }
    }

    /// Adds activities to a project's listing.
    pub fn add(&self, project: &str, activities: impl IntoIterator<Item = Value>) {
        let mut inner = self.inner.lock().unwrap();
        inner
            .behaviour
            .activities
            .entry(project.to_owned())
            .or_default()
            .extend(activities);
    }

    /// Replaces the listed activity with the same id (it changed: finished, say).
    pub fn replace(&self, project: &str, activity: Value) {
        let mut inner = self.inner.lock().unwrap();
        let listed = inner
            .behaviour
            .activities
            .entry(project.to_owned())
            .or_default();
        listed.retain(|a| a["id"] != activity["id"]);
        listed.push(activity);
    }

    pub fn seen<T>(&self, f: impl FnOnce(&Seen) -> T) -> T {
        f(&self.inner.lock().unwrap().seen)
    }

    /// The exporter's flags to reconcile against this double; no `projects`: every project
    /// the token can see.
    pub fn flags(&self, projects: &str) -> Vec<String> {
        let mut flags = vec![
            "--platformsh.api-token".into(),
            API_TOKEN.into(),
            "--platformsh.api-url".into(),
            self.url.clone(),
            "--platformsh.auth-url".into(),
            self.url.clone(),
            "--platformsh.poll-interval".into(),
            "300ms".into(),
            // The fixtures are dated November 2026: a backfill that reaches them whatever the
            // date the tests run.
            "--platformsh.backfill".into(),
            "3650d".into(),
        ];
        if !projects.is_empty() {
            flags.extend(["--platformsh.projects".into(), projects.into()]);
        }
        flags
    }
}

fn form_value(body: &str, name: &str) -> Option<String> {
    body.split('&').find_map(|pair| {
        let (key, value) = pair.split_once('=')?;
        (key == name).then(|| decode(value))
    })
}

/// Percent-decoding of a form or query value (`+` is a space in a form).
fn decode(value: &str) -> String {
    let bytes = value.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap();
                out.push(u8::from_str_radix(hex, 16).unwrap());
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).unwrap()
}

async fn token(State(inner): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    // Basic auth `platform-api-user:` (empty password).
    let basic = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let body = String::from_utf8_lossy(&body);
    let mut inner = inner.lock().unwrap();
    inner.seen.requests.push("POST /oauth2/token".into());
    if basic != "Basic cGxhdGZvcm0tYXBpLXVzZXI6"
        || form_value(&body, "grant_type").as_deref() != Some("api_token")
        || form_value(&body, "api_token").as_deref() != Some(API_TOKEN)
    {
        let error = json!({"error": "invalid_grant", "error_description": "Invalid API token."});
        return (StatusCode::BAD_REQUEST, axum::Json(error)).into_response();
    }
    inner.seen.exchanges += 1;
    let access = format!("access-{}", inner.seen.exchanges);
    let uses = inner.behaviour.token_uses;
    inner.tokens.insert(access.clone(), uses);
    axum::Json(json!({"access_token": access, "expires_in": 900, "token_type": "bearer"}))
        .into_response()
}

/// Logs the request, then spends one use of its access token: the double's state, or `None`
/// for a token that is unknown or used up (answer [`unauthorised`]).
fn admit<'a>(
    inner: &'a Shared,
    headers: &HeaderMap,
    request: String,
) -> Option<std::sync::MutexGuard<'a, Inner>> {
    let mut inner = inner.lock().unwrap();
    inner.seen.requests.push(request);
    authorised(&mut inner, headers).then_some(inner)
}

/// Spends one use of the request's access token; `false` if it has none left or is unknown.
fn authorised(inner: &mut Inner, headers: &HeaderMap) -> bool {
    let Some(token) = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
    else {
        return false;
    };
    match inner.tokens.get_mut(token) {
        Some(uses) if *uses > 0 => {
            *uses -= 1;
            true
        }
        _ => false,
    }
}

fn unauthorised() -> Response {
    let error = json!({"status": "error", "code": 401, "message": "Invalid or expired token"});
    (StatusCode::UNAUTHORIZED, axum::Json(error)).into_response()
}

fn created_at(activity: &Value) -> Option<chrono::DateTime<chrono::FixedOffset>> {
    chrono::DateTime::parse_from_rfc3339(activity["created_at"].as_str()?).ok()
}

async fn activities(
    State(inner): State<Shared>,
    Path(project): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let delay = inner.lock().unwrap().behaviour.delay;
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let request = format!("GET /projects/{project}/activities {query:?}");
    let Some(mut inner) = admit(&inner, &headers, request) else {
        return unauthorised();
    };
    inner.seen.listings += 1;
    let fail_every = inner.behaviour.fail_every;
    if fail_every > 0 && inner.seen.listings % fail_every == 0 {
        return (StatusCode::INTERNAL_SERVER_ERROR, "upstream timed out").into_response();
    }
    if inner
        .behaviour
        .empty_listings
        .contains(&inner.seen.listings)
    {
        return axum::Json(json!([])).into_response();
    }
    let count: usize = query
        .get("count")
        .and_then(|c| c.parse().ok())
        .unwrap_or(10);
    let before = query
        .get("starts_at")
        .map(|s| chrono::DateTime::parse_from_rfc3339(s).expect("starts_at is RFC 3339"));
    let mut listed: Vec<Value> = inner
        .behaviour
        .activities
        .get(&project)
        .cloned()
        .unwrap_or_default()
        .into_iter()
        // Inclusive: the boundary activity comes back.
        .filter(|a| before.is_none_or(|b| created_at(a).is_some_and(|c| c <= b)))
        .collect();
    // Newest first; one without a creation time (just created?) before every other, where it
    // stops a client that pages by creation time.
    listed.sort_by_key(|a| {
        std::cmp::Reverse(created_at(a).map_or(i64::MAX, |c| c.timestamp_micros()))
    });
    listed.truncate(count.min(inner.behaviour.page_cap));
    axum::Json(Value::Array(listed)).into_response()
}

async fn project(
    State(inner): State<Shared>,
    Path(project): Path<String>,
    headers: HeaderMap,
) -> Response {
    if admit(&inner, &headers, format!("GET /projects/{project}")).is_none() {
        return unauthorised();
    }
    axum::Json(json!({
        "id": project,
        "title": format!("Shop <{project}>"),
        "region": "eu-3.platform.sh",
        "organization": "01ORGANIZATION",
    }))
    .into_response()
}

async fn organization(
    State(inner): State<Shared>,
    Path(organization): Path<String>,
    headers: HeaderMap,
) -> Response {
    if admit(
        &inner,
        &headers,
        format!("GET /organizations/{organization}"),
    )
    .is_none()
    {
        return unauthorised();
    }
    axum::Json(json!({"id": organization, "name": "acme", "label": "ACME Inc."})).into_response()
}

async fn integrations(
    State(inner): State<Shared>,
    Path(project): Path<String>,
    headers: HeaderMap,
) -> Response {
    let request = format!("GET /projects/{project}/integrations");
    let Some(inner) = admit(&inner, &headers, request) else {
        return unauthorised();
    };
    let show_keys = inner.behaviour.show_keys;
    match inner.behaviour.integrations.get(&project) {
        Some(Value::Array(list)) => {
            let listed: Vec<Value> = list
                .iter()
                .map(|i| {
                    let mut i = i.clone();
                    if !show_keys && let Some(o) = i.as_object_mut() {
                        o.remove("shared_key");
                    }
                    if i["type"] == "webhook" {
                        let id = i["id"].as_str().unwrap_or_default().to_owned();
                        i["_links"] = json!({
                            "self": {"href": format!("/projects/{project}/integrations/{id}")},
                            "#validate": {"href": format!("/projects/{project}/integrations/{id}/validate")},
                        });
                    }
                    i
                })
                .collect();
            axum::Json(Value::Array(listed)).into_response()
        }
        Some(other) => axum::Json(other.clone()).into_response(),
        None => forbidden(),
    }
}

fn forbidden() -> Response {
    (StatusCode::FORBIDDEN, "{\"detail\": \"no access\"}").into_response()
}

/// The integration as stored, wrapped as the clients read a write's answer.
fn entity(integration: &Value) -> Response {
    let mut shown = integration.clone();
    if let Some(o) = shown.as_object_mut() {
        o.remove("shared_key");
    }
    let body = json!({"_embedded": {"entity": shown, "activities": []}});
    (StatusCode::CREATED, axum::Json(body)).into_response()
}

async fn create_integration(
    State(inner): State<Shared>,
    Path(project): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let request = format!("POST /projects/{project}/integrations");
    let Some(mut inner) = admit(&inner, &headers, request) else {
        return unauthorised();
    };
    let Ok(Value::Object(mut new)) = serde_json::from_slice::<Value>(&body) else {
        return (StatusCode::BAD_REQUEST, "{\"detail\": \"not JSON\"}").into_response();
    };
    if new.get("type") != Some(&json!("webhook")) || !new.contains_key("url") {
        let detail = json!({"detail": {"url": "type webhook and a url are required"}});
        return (StatusCode::BAD_REQUEST, axum::Json(detail)).into_response();
    }
    inner.seen.integrations_created += 1;
    let id = format!("created-{}", inner.seen.integrations_created);
    new.insert("id".into(), json!(id));
    let Some(Value::Array(list)) = inner.behaviour.integrations.get_mut(&project) else {
        return forbidden();
    };
    list.push(Value::Object(new));
    entity(list.last().unwrap())
}

async fn update_integration(
    State(inner): State<Shared>,
    Path((project, id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let request = format!("PATCH /projects/{project}/integrations/{id}");
    let Some(mut inner) = admit(&inner, &headers, request) else {
        return unauthorised();
    };
    let Ok(Value::Object(changes)) = serde_json::from_slice::<Value>(&body) else {
        return (StatusCode::BAD_REQUEST, "{\"detail\": \"not JSON\"}").into_response();
    };
    let Some(Value::Array(list)) = inner.behaviour.integrations.get_mut(&project) else {
        return forbidden();
    };
    let Some(found) = list.iter_mut().find(|i| i["id"] == id.as_str()) else {
        return (StatusCode::NOT_FOUND, "{}").into_response();
    };
    for (key, value) in changes {
        found[key] = value;
    }
    entity(found)
}

async fn remove_integration(
    State(inner): State<Shared>,
    Path((project, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let request = format!("DELETE /projects/{project}/integrations/{id}");
    let Some(mut inner) = admit(&inner, &headers, request) else {
        return unauthorised();
    };
    let Some(Value::Array(list)) = inner.behaviour.integrations.get_mut(&project) else {
        return forbidden();
    };
    list.retain(|i| i["id"] != id.as_str());
    axum::Json(json!({"status": "success", "code": 200})).into_response()
}

async fn validate_integration(
    State(inner): State<Shared>,
    Path((project, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let request = format!("POST /projects/{project}/integrations/{id}/validate");
    let Some(inner) = admit(&inner, &headers, request) else {
        return unauthorised();
    };
    let Some(Value::Array(list)) = inner.behaviour.integrations.get(&project) else {
        return forbidden();
    };
    match list.iter().find(|i| i["id"] == id.as_str()) {
        Some(i) if i["url"].as_str().is_some_and(|u| u.starts_with("https://")) => {
            axum::Json(json!({})).into_response()
        }
        Some(_) => {
            let detail = json!({"detail": {"url": "must be https"}});
            (StatusCode::BAD_REQUEST, axum::Json(detail)).into_response()
        }
        None => (StatusCode::NOT_FOUND, "{}").into_response(),
    }
}

/// A project's integrations as the double holds them (keys included).
impl ApiDouble {
    pub fn integrations(&self, project: &str) -> Value {
        self.inner.lock().unwrap().behaviour.integrations[project].clone()
    }
}

async fn me(State(inner): State<Shared>, headers: HeaderMap) -> Response {
    if admit(&inner, &headers, "GET /users/me".into()).is_none() {
        return unauthorised();
    }
    axum::Json(json!({"id": "user-1", "username": "dev"})).into_response()
}

async fn access(
    State(inner): State<Shared>,
    Path(user): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let page: usize = query.get("page").and_then(|p| p.parse().ok()).unwrap_or(1);
    let request = format!("GET /users/{user}/extended-access page={page}");
    let Some(inner) = admit(&inner, &headers, request) else {
        return unauthorised();
    };
    let mut projects: Vec<&String> = inner.behaviour.activities.keys().collect();
    projects.sort();
    let size = match inner.behaviour.access_page {
        0 => projects.len().max(1),
        size => size,
    };
    let items: Vec<Value> = projects
        .iter()
        .skip((page - 1) * size)
        .take(size)
        .map(|p| json!({"resource_id": p, "resource_type": "project", "organization_id": "01ORGANIZATION"}))
        .collect();
    let filter = "filter%5Bresource_type%5D=project";
    let mut links =
        json!({"self": {"href": format!("/users/{user}/extended-access?{filter}&page={page}")}});
    if page * size < projects.len() {
        links["next"] = json!({"href": match page {
            1 => format!("/users/{user}/extended-access?{filter}&page=2"),
            page => format!("extended-access?{filter}&page={}", page + 1),
        }});
    }
    axum::Json(json!({"items": items, "_links": links})).into_response()
}
