//! The web configuration file (`--web.config.file`), as exporter-toolkit reads it for every
//! Prometheus exporter: `basic_auth_users` (bcrypt hashes) and `tls_server_config` (served
//! with rustls). Like exporter-toolkit, the file is read again when it changes, without a
//! restart: [`WebConfigSource::current`] looks at it (and at the certificate, key and CA files
//! it names) at most once a second, and SIGHUP asks for it at once. A new file that cannot be
//! used keeps the old one, and says why.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use arc_swap::ArcSwap;
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};
use serde::Deserialize;

use super::auth::BasicAuth;
use crate::config::ConfigError;

/// How often a request looks whether the files changed.
const CHECK_EVERY: Duration = Duration::from_secs(1);

/// The parts of exporter-toolkit's web configuration file this exporter understands.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct WebConfigFile {
    #[serde(default)]
    basic_auth_users: std::collections::HashMap<String, String>,
    #[serde(default)]
    tls_server_config: Option<TlsFile>,
    /// Refused below: its HTTP/2 and header settings have no counterpart here, and a setting
    /// silently ignored would look applied.
    #[serde(default)]
    http_server_config: Option<serde_yaml_ng::Value>,
}

/// exporter-toolkit's `tls_server_config`, the settings rustls can honour. Others
/// (`cipher_suites`, `curve_preferences`, `client_allowed_sans`, inline `cert`/`key`) are refused
/// by name rather than ignored.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TlsFile {
    cert_file: PathBuf,
    key_file: PathBuf,
    #[serde(default)]
    client_auth_type: Option<String>,
    #[serde(default)]
    client_ca_file: Option<PathBuf>,
    #[serde(default)]
    min_version: Option<String>,
    #[serde(default)]
    max_version: Option<String>,
}

/// What one reading of the file configures.
#[derive(Debug, Default)]
pub struct WebConfig {
    pub auth: Option<BasicAuth>,
    pub tls: Option<Arc<ServerConfig>>,
}

impl WebConfig {
    /// Reads the file at `path` and every file it names; relative paths are relative to its
    /// folder, as exporter-toolkit takes them.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let what = "web config file";
        let text = crate::config::read(what, path)?;
        let folder = path.parent().unwrap_or(Path::new("."));
        Self::parse(&text, folder)
            .map(|(config, _)| config)
            .map_err(|e| ConfigError::invalid(what, path, e))
    }

    /// The configuration and the files it names.
    fn parse(text: &str, folder: &Path) -> Result<(Self, Vec<PathBuf>), String> {
        let file: WebConfigFile = serde_yaml_ng::from_str(text).map_err(|e| e.to_string())?;
        if file.http_server_config.is_some() {
            return Err(
                "http_server_config is not supported: this exporter serves HTTP/1.1 only and \
                 sets no extra headers; remove the section"
                    .into(),
            );
        }
        let auth = BasicAuth::from_users(file.basic_auth_users)?;
        let (tls, named) = match file.tls_server_config {
            Some(tls) => {
                let (config, named) = server_config(&tls, folder)?;
                (Some(Arc::new(config)), named)
            }
            None => (None, Vec::new()),
        };
        Ok((Self { auth, tls }, named))
    }
}

/// The versions rustls speaks, oldest first.
const VERSIONS: [&rustls::SupportedProtocolVersion; 2] =
    [&rustls::version::TLS12, &rustls::version::TLS13];

/// A version's place in [`VERSIONS`].
fn version(name: &str) -> Result<usize, String> {
    match name {
        "TLS12" => Ok(0),
        "TLS13" => Ok(1),
        "TLS10" | "TLS11" => Err(format!(
            "{name} is not supported: rustls speaks TLS 1.2 and 1.3 only (TLS12, TLS13)"
        )),
        other => Err(format!("unknown TLS version {other:?} (TLS12 or TLS13)")),
    }
}

fn read(what: &str, path: &Path) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("cannot read the {what} {}: {e}", path.display()))
}

/// The rustls configuration of `tls`, and the files it read.
fn server_config(tls: &TlsFile, folder: &Path) -> Result<(ServerConfig, Vec<PathBuf>), String> {
    let at = |p: &Path| folder.join(p);
    let (cert_path, key_path) = (at(&tls.cert_file), at(&tls.key_file));
    let certs = CertificateDer::pem_slice_iter(&read("cert_file", &cert_path)?)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("cert_file {}: {e}", cert_path.display()))?;
    if certs.is_empty() {
        return Err(format!(
            "cert_file {} holds no certificate",
            cert_path.display()
        ));
    }
    let key = PrivateKeyDer::from_pem_slice(&read("key_file", &key_path)?)
        .map_err(|e| format!("key_file {}: {e}", key_path.display()))?;
    let mut named = vec![cert_path, key_path];

    let min = version(tls.min_version.as_deref().unwrap_or("TLS12"))?;
    let max = version(tls.max_version.as_deref().unwrap_or("TLS13"))?;
    if min > max {
        return Err("min_version is above max_version".into());
    }
    let versions = &VERSIONS[min..=max];
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ServerConfig::builder_with_provider(Arc::clone(&provider))
        .with_protocol_versions(versions)
        .map_err(|e| e.to_string())?;

    let client_auth = tls.client_auth_type.as_deref().unwrap_or("NoClientCert");
    let builder = match client_auth {
        "NoClientCert" => builder.with_no_client_auth(),
        "VerifyClientCertIfGiven" | "RequireAndVerifyClientCert" => {
            let Some(ca) = &tls.client_ca_file else {
                return Err(format!(
                    "client_auth_type {client_auth} needs client_ca_file"
                ));
            };
            let ca = at(ca);
            let mut roots = RootCertStore::empty();
            for cert in CertificateDer::pem_slice_iter(&read("client_ca_file", &ca)?) {
                let cert = cert.map_err(|e| format!("client_ca_file {}: {e}", ca.display()))?;
                roots
                    .add(cert)
                    .map_err(|e| format!("client_ca_file {}: {e}", ca.display()))?;
            }
            named.push(ca);
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider);
            let verifier = if client_auth == "VerifyClientCertIfGiven" {
                verifier.allow_unauthenticated()
            } else {
                verifier
            };
            builder.with_client_cert_verifier(verifier.build().map_err(|e| e.to_string())?)
        }
        "RequestClientCert" | "RequireAnyClientCert" => {
            return Err(format!(
                "client_auth_type {client_auth} is not supported: a client certificate is \
                 verified against client_ca_file or not asked for (VerifyClientCertIfGiven, \
                 RequireAndVerifyClientCert, NoClientCert)"
            ));
        }
        other => return Err(format!("unknown client_auth_type {other:?}")),
    };
    let mut config = builder
        .with_single_cert(certs, key)
        .map_err(|e| format!("cert_file and key_file: {e}"))?;
    // HTTP/1.1 only, as the plain server (see `serve`).
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok((config, named))
}

/// What a file looked like: its modification time, length and inode (a replaced file, as
/// Kubernetes swaps a mounted secret, has another).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Stamp(Option<(SystemTime, u64, u64)>);

impl Stamp {
    fn of(path: &Path) -> Self {
        use std::os::unix::fs::MetadataExt;
        Self(std::fs::metadata(path).ok().map(|m| {
            (
                m.modified().unwrap_or(SystemTime::UNIX_EPOCH),
                m.len(),
                m.ino(),
            )
        }))
    }
}

#[derive(Debug)]
struct Watched {
    /// The web config file, then the files it names, each as last read.
    stamps: Vec<(PathBuf, Stamp)>,
    checked: Instant,
    /// The stamps of a new reading that could not be used: not tried again until they change.
    refused: Option<Vec<Stamp>>,
}

/// The web configuration in use, read again when its files change (see the module's doc).
#[derive(Debug)]
pub struct WebConfigSource {
    path: Option<PathBuf>,
    current: ArcSwap<WebConfig>,
    watched: Mutex<Watched>,
    telemetry: Arc<crate::telemetry::Telemetry>,
}

/// The outcome of one look at the files.
#[derive(Debug, PartialEq, Eq)]
pub enum Reload {
    /// Nothing changed (or there is no file).
    Unchanged,
    Reloaded,
    /// The new files cannot be used: the old configuration stays.
    Refused(String),
}

impl WebConfigSource {
    /// The configuration read at start (`initial`, from `path`).
    pub fn new(
        path: Option<PathBuf>,
        initial: WebConfig,
        telemetry: Arc<crate::telemetry::Telemetry>,
    ) -> Self {
        let stamps = path.as_deref().map_or_else(Vec::new, |p| {
            let folder = p.parent().unwrap_or(Path::new("."));
            let named = std::fs::read_to_string(p)
                .ok()
                .and_then(|t| WebConfig::parse(&t, folder).ok())
                .map(|(_, named)| named)
                .unwrap_or_default();
            std::iter::once(p.to_owned())
                .chain(named)
                .map(|f| {
                    let stamp = Stamp::of(&f);
                    (f, stamp)
                })
                .collect()
        });
        telemetry.config_reloaded(true);
        Self {
            path,
            current: ArcSwap::from_pointee(initial),
            watched: Mutex::new(Watched {
                stamps,
                checked: Instant::now(),
                refused: None,
            }),
            telemetry,
        }
    }

    /// The configuration in use, read again first if a second has passed and a file changed.
    pub fn current(&self) -> Arc<WebConfig> {
        let due = self
            .watched
            .try_lock()
            .is_ok_and(|w| w.checked.elapsed() >= CHECK_EVERY);
        if due {
            self.reload_if_changed(false);
        }
        self.current.load_full()
    }

    /// Reads the files again if they changed (or, `forced`, whatever they look like), and
    /// says what came of it; a refusal is logged once per version of the files.
    pub fn reload_if_changed(&self, forced: bool) -> Reload {
        let Some(path) = &self.path else {
            return Reload::Unchanged;
        };
        let mut watched = self
            .watched
            .lock()
            .expect("the web config watch lock is never poisoned: no panic while held");
        watched.checked = Instant::now();
        let now: Vec<Stamp> = watched.stamps.iter().map(|(p, _)| Stamp::of(p)).collect();
        let changed = now
            .iter()
            .zip(&watched.stamps)
            .any(|(now, (_, then))| now != then);
        if !forced && (!changed || watched.refused.as_ref() == Some(&now)) {
            return Reload::Unchanged;
        }
        let folder = path.parent().unwrap_or(Path::new("."));
        let loaded = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read it: {e}"))
            .and_then(|text| WebConfig::parse(&text, folder))
            .and_then(|(config, named)| {
                let was_tls = self.current.load().tls.is_some();
                if config.tls.is_some() == was_tls {
                    Ok((config, named))
                } else {
                    Err("TLS cannot be turned on or off without a restart".to_owned())
                }
            });
        match loaded {
            Ok((config, named)) => {
                watched.stamps = std::iter::once(path.clone())
                    .chain(named)
                    .map(|f| {
                        let stamp = Stamp::of(&f);
                        (f, stamp)
                    })
                    .collect();
                watched.refused = None;
                self.current.store(Arc::new(config));
                self.telemetry.config_reloaded(true);
                tracing::info!(path = %path.display(), "reloaded the web config file");
                Reload::Reloaded
            }
            Err(e) => {
                watched.refused = Some(now);
                self.telemetry.config_reloaded(false);
                tracing::warn!(
                    path = %path.display(),
                    error = %e,
                    "the web config file changed but cannot be used; the previous one stays"
                );
                Reload::Refused(e)
            }
        }
    }
}

/// Middleware: answers 401 with a `WWW-Authenticate` challenge unless the request is
/// authorised by the web config in use (none: every request passes).
pub async fn require(
    State(source): State<Arc<WebConfigSource>>,
    request: Request,
    next: Next,
) -> Response {
    let config = source.current();
    let authorised = match &config.auth {
        None => true,
        Some(auth) => {
            auth.check(request.headers().get(header::AUTHORIZATION))
                .await
        }
    };
    if authorised {
        next.run(request).await
    } else {
        (
            StatusCode::UNAUTHORIZED,
            [(
                header::WWW_AUTHENTICATE,
                "Basic realm=\"platformsh-exporter\"",
            )],
            "Unauthorized\n",
        )
            .into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<WebConfig, String> {
        WebConfig::parse(text, Path::new("/nonexistent")).map(|(c, _)| c)
    }

    #[test]
    fn unsupported_settings_are_refused_by_name() {
        let err = parse("http_server_config:\n  http2: false\n").unwrap_err();
        assert!(err.contains("http_server_config"), "{err}");
        let err =
            parse("tls_server_config:\n  cert_file: a\n  key_file: b\n  cipher_suites: [x]\n")
                .unwrap_err();
        assert!(err.contains("cipher_suites"), "{err}");
        let err = parse("tls_server_config:\n  cert_file: a\n  key_file: b\n").unwrap_err();
        assert!(err.contains("/nonexistent/a"), "{err}");
        assert!(version("TLS10").unwrap_err().contains("TLS 1.2 and 1.3"));
        assert!(parse("basic_auth_users: {}\n").unwrap().auth.is_none());
    }
}
