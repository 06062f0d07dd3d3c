//! What the poller needs to know: the API token (never shown) and the settings from the flags.

use std::fmt;
use std::time::Duration;

/// A Platform.sh API token. Its `Debug` never shows it, so it cannot leak through a log.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiToken(String);

impl ApiToken {
    /// The token, unless it is blank.
    pub fn parse(token: &str) -> Result<Self, String> {
        let token = token.trim();
        if token.is_empty() {
            Err("the Platform.sh API token is empty".into())
        } else {
            Ok(Self(token.to_owned()))
        }
    }

    pub(super) fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ApiToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiToken(<redacted>)")
    }
}

impl std::str::FromStr for ApiToken {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// What the poller needs to know.
#[derive(Debug, Clone)]
pub struct Settings {
    pub token: ApiToken,
    pub api_url: String,
    pub auth_url: String,
    /// Project ids; empty: every project the token can see.
    pub projects: Vec<String>,
    pub poll_interval: Duration,
    /// How far back the first poll of a project reaches.
    pub backfill: Duration,
    /// Longest one API request may take.
    pub timeout: Duration,
    /// First wait after a failed request (doubled at each attempt).
    pub backoff: Duration,
    /// Most pages read per project and poll: a bound on one poll's work whatever the API
    /// answers; a walk cut there goes on at the next poll.
    pub max_pages: usize,
    /// `--webhook.public-url`: the integration pointing there is this exporter's; without
    /// it, any webhook integration of the project is taken for this exporter's.
    pub public_url: Option<reqwest::Url>,
    /// `--platformsh.api-only`: no webhook is expected; the poller is the only source.
    pub api_only: bool,
}
