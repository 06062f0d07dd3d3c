//! The Platform.sh API client: exchanges the API token for short-lived access tokens, and gets
//! JSON with retries (401: a new access token, once; 429, 5xx and no answer: back off).

use std::fmt::Write;
use std::time::Duration;

use serde::Deserialize;

use super::settings::{ApiToken, Settings};
use crate::telemetry::ApiTelemetry;

/// Largest answer read from the API: a page of activities is far smaller (the `log` field is a
/// placeholder now), and an answer past this is not one the poller can use.
const MAX_ANSWER_BYTES: usize = 32 * 1024 * 1024;
/// Attempts of one request when the API is overloaded or unreachable.
const ATTEMPTS: u32 = 4;
/// Longest wait between two attempts, whatever `Retry-After` asks.
const MAX_BACKOFF: Duration = Duration::from_secs(60);

/// Why a request to the API failed. The messages never carry a token.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("the API token was refused by {url}: {message}")]
    Token { url: String, message: String },
    #[error("{url} answered {status}: {message}")]
    Status {
        url: String,
        status: u16,
        message: String,
    },
    #[error("{url}: {message}")]
    Unreachable { url: String, message: String },
    #[error("{url}: the answer is not what was expected: {message}")]
    Invalid { url: String, message: String },
    /// Not the API's fault: the store could not take an activity the API listed.
    #[error("the activity store cannot take activities: {0}")]
    Store(#[from] crate::store::StoreError),
}

#[derive(Deserialize)]
struct AccessToken {
    access_token: String,
}

#[derive(Deserialize)]
struct OAuthError {
    #[serde(default)]
    error: String,
    #[serde(default)]
    error_description: String,
}

/// One client per exporter: the HTTP connection pool and the current access token.
#[derive(Debug)]
pub struct Client {
    http: reqwest::Client,
    api_url: String,
    auth_url: String,
    token: ApiToken,
    access: tokio::sync::Mutex<Option<String>>,
    telemetry: ApiTelemetry,
    /// First wait after a failed attempt (doubled each time).
    backoff: Duration,
}

/// `code` label of an answer.
fn code(status: reqwest::StatusCode) -> String {
    status.as_u16().to_string()
}

impl Client {
    pub fn new(settings: &Settings, telemetry: ApiTelemetry) -> Result<Self, String> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(settings.timeout)
            .user_agent(concat!("platformsh-exporter/", env!("CARGO_PKG_VERSION")))
            .redirect(same_origin_redirects())
            .build()
            .map_err(|e| format!("cannot build the API client: {e}"))?;
        Ok(Self {
            http,
            api_url: settings.api_url.trim_end_matches('/').to_owned(),
            auth_url: settings.auth_url.trim_end_matches('/').to_owned(),
            token: settings.token.clone(),
            access: tokio::sync::Mutex::new(None),
            telemetry,
            backoff: settings.backoff,
        })
    }

    pub fn api_url(&self) -> &str {
        &self.api_url
    }

    /// A fresh access token for the API token (`POST {auth}/oauth2/token`).
    async fn exchange(&self) -> Result<String, ApiError> {
        let url = format!("{}/oauth2/token", self.auth_url);
        let mut attempt = 0;
        loop {
            attempt += 1;
            let sent = self
                .http
                .post(&url)
                .basic_auth("platform-api-user", Some(""))
                .form(&[
                    ("grant_type", "api_token"),
                    ("api_token", self.token.expose()),
                ])
                .send()
                .await;
            let Some(answer) = self.counted("token", &url, attempt, sent).await? else {
                continue;
            };
            let status = answer.status();
            let retry_after = retry_after(&answer);
            let body = read(answer, &url).await?;
            if status.is_success() {
                let token: AccessToken =
                    serde_json::from_slice(&body).map_err(|e| ApiError::Invalid {
                        url: url.clone(),
                        message: e.to_string(),
                    })?;
                return Ok(token.access_token);
            }
            if status.is_server_error() || status == reqwest::StatusCode::TOO_MANY_REQUESTS {
                let error = ApiError::Status {
                    url: url.clone(),
                    status: status.as_u16(),
                    message: snippet(&body),
                };
                self.wait_or_fail(attempt, retry_after, error).await?;
                continue;
            }
            let message = serde_json::from_slice::<OAuthError>(&body).map_or_else(
                |_| snippet(&body),
                |e| format!("{} {}", e.error, e.error_description),
            );
            return Err(ApiError::Token { url, message });
        }
    }

    /// Counts an attempt under `endpoint` by its status code; one that got no answer waits for
    /// the next attempt (`None`) or, after the last, fails.
    async fn counted(
        &self,
        endpoint: &str,
        url: &str,
        attempt: u32,
        sent: reqwest::Result<reqwest::Response>,
    ) -> Result<Option<reqwest::Response>, ApiError> {
        match sent {
            Ok(answer) => {
                self.telemetry
                    .count_request(endpoint, &code(answer.status()));
                Ok(Some(answer))
            }
            Err(e) => {
                self.telemetry.count_request(endpoint, "error");
                let error = ApiError::Unreachable {
                    url: url.to_owned(),
                    message: e.without_url().to_string(),
                };
                self.wait_or_fail(attempt, None, error).await?;
                Ok(None)
            }
        }
    }

    /// Sleeps before the next attempt, or gives up with `error` after the last one.
    async fn wait_or_fail(
        &self,
        attempt: u32,
        retry_after: Option<Duration>,
        error: ApiError,
    ) -> Result<(), ApiError> {
        if attempt >= ATTEMPTS {
            return Err(error);
        }
        let backoff = self.backoff * 2u32.pow(attempt - 1);
        let wait = retry_after.unwrap_or(backoff).min(MAX_BACKOFF);
        tracing::debug!(error = %error, wait_seconds = wait.as_secs_f64(), "retrying a Platform.sh API request");
        tokio::time::sleep(wait).await;
        Ok(())
    }

    /// The body of `GET {api}{path}`, counted under `endpoint`.
    pub async fn get(&self, endpoint: &str, path: &str) -> Result<Vec<u8>, ApiError> {
        self.send(reqwest::Method::GET, endpoint, path, None).await
    }

    /// `GET {api}{path}` as JSON.
    pub async fn json<T: for<'de> Deserialize<'de>>(
        &self,
        endpoint: &str,
        path: &str,
    ) -> Result<T, ApiError> {
        let body = self.get(endpoint, path).await?;
        serde_json::from_slice(&body).map_err(|e| ApiError::Invalid {
            url: format!("{}{path}", self.api_url),
            message: e.to_string(),
        })
    }

    /// The body of `method {api}{path}` with `body` as JSON, counted under `endpoint`. A
    /// `POST` is not idempotent: it is retried only where the API cannot have acted on it
    /// (401 with a fresh token, 429); a 5xx or a lost answer is returned as the error it is.
    pub async fn send(
        &self,
        method: reqwest::Method,
        endpoint: &str,
        path: &str,
        body: Option<&serde_json::Value>,
    ) -> Result<Vec<u8>, ApiError> {
        let url = format!("{}{path}", self.api_url);
        let idempotent = method != reqwest::Method::POST;
        let mut refreshed = false;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let access = {
                let mut access = self.access.lock().await;
                if let Some(token) = access.as_ref() {
                    token.clone()
                } else {
                    let token = self.exchange().await?;
                    *access = Some(token.clone());
                    token
                }
            };
            let mut request = self.http.request(method.clone(), &url).bearer_auth(&access);
            if let Some(body) = body {
                // reqwest's `json` feature is not enabled for one call: the body is built here.
                request = request
                    .header(reqwest::header::CONTENT_TYPE, "application/json")
                    .body(body.to_string());
            }
            let sent = request.send().await;
            let sent = match sent {
                Err(e) if !idempotent => {
                    self.telemetry.count_request(endpoint, "error");
                    return Err(ApiError::Unreachable {
                        url,
                        message: e.without_url().to_string(),
                    });
                }
                sent => sent,
            };
            let Some(answer) = self.counted(endpoint, &url, attempt, sent).await? else {
                continue;
            };
            let status = answer.status();
            if status == reqwest::StatusCode::UNAUTHORIZED && !refreshed {
                // The access token expired or was revoked: exchange again and retry once.
                refreshed = true;
                attempt -= 1;
                let mut current = self.access.lock().await;
                if current.as_deref() == Some(access.as_str()) {
                    *current = None;
                }
                continue;
            }
            let retry_after = retry_after(&answer);
            let body = read(answer, &url).await?;
            if status.is_success() {
                return Ok(body);
            }
            let error = ApiError::Status {
                url: url.clone(),
                status: status.as_u16(),
                message: snippet(&body),
            };
            let again = status == reqwest::StatusCode::TOO_MANY_REQUESTS
                || (idempotent && status.is_server_error());
            if again {
                self.wait_or_fail(attempt, retry_after, error).await?;
                continue;
            }
            return Err(error);
        }
    }
}

/// The `Retry-After` of an answer, in seconds (the HTTP-date form is not used by APIs like
/// this one's gateways).
fn retry_after(answer: &reqwest::Response) -> Option<Duration> {
    let seconds = answer
        .headers()
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse::<u64>()
        .ok()?;
    Some(Duration::from_secs(seconds))
}

/// The whole body, refused past [`MAX_ANSWER_BYTES`].
async fn read(mut answer: reqwest::Response, url: &str) -> Result<Vec<u8>, ApiError> {
    let mut body = Vec::new();
    loop {
        match answer.chunk().await {
            Ok(Some(chunk)) => {
                if body.len() + chunk.len() > MAX_ANSWER_BYTES {
                    return Err(ApiError::Invalid {
                        url: url.to_owned(),
                        message: format!("the answer is larger than {MAX_ANSWER_BYTES} bytes"),
                    });
                }
                body.extend_from_slice(&chunk);
            }
            Ok(None) => return Ok(body),
            Err(e) => {
                return Err(ApiError::Unreachable {
                    url: url.to_owned(),
                    message: e.without_url().to_string(),
                });
            }
        }
    }
}

/// The start of a body, for an error message.
fn snippet(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(&body[..body.len().min(200)]);
    text.chars().filter(|c| !c.is_control()).collect()
}

/// Redirects are followed within the origin (scheme, host and port) of the first request only,
/// five at most. The token exchange posts the API token and every other request carries the
/// access token: a redirect to another host, or from https to http, would hand them over
/// (reqwest keeps `Authorization` across an https → http redirect, and re-posts a 307's body).
/// A redirect not followed is answered as the 3xx it is, an error like any other.
fn same_origin_redirects() -> reqwest::redirect::Policy {
    reqwest::redirect::Policy::custom(|attempt| {
        let Some(first) = attempt.previous().first() else {
            return attempt.stop();
        };
        let same = |a: &reqwest::Url, b: &reqwest::Url| {
            a.scheme() == b.scheme()
                && a.host_str() == b.host_str()
                && a.port_or_known_default() == b.port_or_known_default()
        };
        if attempt.previous().len() > 5 || !same(first, attempt.url()) {
            attempt.stop()
        } else {
            attempt.follow()
        }
    })
}

/// Percent-encodes everything but unreserved characters (RFC 3986), for a path segment or a
/// query value.
pub fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}
