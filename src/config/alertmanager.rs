//! The Alertmanager receiver's flags: who may post to `/alertmanager`, which alerts are
//! incidents and where, and how long after a change an incident is its failure.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use super::error::{ConfigError, read};
use super::parse::positive_duration;
use crate::alert::Rules;

/// The credential Alertmanager must send: never shown, not even in `Debug`.
#[derive(Clone)]
pub struct Credential(String);

impl Credential {
    pub fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Credential(<redacted>)")
    }
}

#[derive(Debug, Clone, clap::Args)]
pub struct AlertmanagerFlags {
    /// A file holding the credential Alertmanager must send to POST /alertmanager: as a bearer
    /// token (`http_config`'s `authorization`) or as the password of basic auth (any user name).
    /// Without it the receiver takes unauthenticated posts (said at start).
    #[arg(
        long = "alertmanager.credentials-file",
        help_heading = "Incidents",
        env = "PLATFORMSH_EXPORTER_ALERTMANAGER_CREDENTIALS_FILE"
    )]
    pub credentials_file: Option<PathBuf>,

    /// Values of the `severity` label that make an alert an incident (comma-separated).
    #[arg(
        long = "alertmanager.severities",
        help_heading = "Incidents",
        env = "PLATFORMSH_EXPORTER_ALERTMANAGER_SEVERITIES",
        default_value = "critical",
        value_delimiter = ','
    )]
    pub severities: Vec<String>,

    /// The alert label that names the Platform.sh project (its id).
    #[arg(
        long = "alertmanager.project-label",
        help_heading = "Incidents",
        env = "PLATFORMSH_EXPORTER_ALERTMANAGER_PROJECT_LABEL",
        default_value = "project"
    )]
    pub project_label: String,

    /// The alert label that names the Platform.sh environment.
    #[arg(
        long = "alertmanager.environment-label",
        help_heading = "Incidents",
        env = "PLATFORMSH_EXPORTER_ALERTMANAGER_ENVIRONMENT_LABEL",
        default_value = "environment"
    )]
    pub environment_label: String,

    /// An incident on production that starts this long or less after a change deployed
    /// there is that change's failure.
    #[arg(
        long = "incidents.window",
        help_heading = "Incidents",
        env = "PLATFORMSH_EXPORTER_INCIDENTS_WINDOW",
        default_value = "24h",
        value_parser = positive_duration
    )]
    pub window: Duration,

    /// The environment types whose incidents are change failures of the change deployed
    /// before them (comma-separated): DORA rates production; add e.g. staging to rate it too.
    #[arg(
        long = "incidents.environment-types",
        help_heading = "Incidents",
        env = "PLATFORMSH_EXPORTER_INCIDENTS_ENVIRONMENT_TYPES",
        default_value = "production",
        value_delimiter = ','
    )]
    pub environment_types: Vec<String>,
}

impl AlertmanagerFlags {
    /// Which alerts are incidents, and where.
    pub fn rules(&self) -> Rules {
        Rules {
            severities: self.severities.clone(),
            project_label: self.project_label.clone(),
            environment_label: self.environment_label.clone(),
        }
    }

    /// The credential file's first line, if one is configured; a blank one is refused.
    pub fn credential(&self) -> Result<Option<Credential>, ConfigError> {
        let Some(path) = &self.credentials_file else {
            return Ok(None);
        };
        let what = "Alertmanager credentials file";
        let text = read(what, path)?;
        let line = text.lines().next().unwrap_or_default().trim();
        if line.is_empty() {
            return Err(ConfigError::invalid(what, path, "it is blank"));
        }
        Ok(Some(Credential(line.to_owned())))
    }
}
