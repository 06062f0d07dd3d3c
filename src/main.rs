use std::io::Write;
use std::process::ExitCode;

use clap::Parser;
use platformsh_exporter::app::App;
use platformsh_exporter::config::{Command, LogFormat, SetupOutput};
use platformsh_exporter::http::webconfig::WebConfig;
use platformsh_exporter::{Config, history, http, logging, setup};
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> ExitCode {
    let config = Config::parse();
    let filter = EnvFilter::try_new(&config.log_level).unwrap_or_else(|e| {
        eprintln!(
            "invalid --log.level {:?}: {e}; using info",
            config.log_level
        );
        EnvFilter::new("info")
    });
    // Logs are diagnostics, not output: stderr, where service managers collect them.
    let format = match config.log_format {
        LogFormat::Logfmt => logging::Format::Logfmt,
        LogFormat::Json => logging::Format::Json,
    };
    tracing_subscriber::fmt()
        .event_format(format)
        .with_writer(std::io::stderr)
        .with_env_filter(filter)
        .init();
    if let Some(Command::History {
        since,
        output,
        step,
        overwrite,
    }) = &config.command
    {
        let options = history::Options {
            since: *since,
            step: *step,
            now: chrono::Utc::now(),
        };
        return write_history(&config, &options, output.as_deref(), *overwrite);
    }
    if let Some(Command::Healthcheck { url }) = &config.command {
        return healthcheck(&config, url.as_deref()).await;
    }
    if let Some(Command::Setup {
        apply,
        output,
        set_key,
    }) = &config.command
    {
        return setup(&config, *apply, *output, *set_key).await;
    }
    // Every flag and the files they name, before the port is taken and the store replayed.
    let app = match App::build(config) {
        Ok(app) => app,
        Err(e) => {
            tracing::error!("{e}");
            return ExitCode::FAILURE;
        }
    };
    let config = app.config();
    let listener = match tokio::net::TcpListener::bind(&config.listen_address).await {
        Ok(listener) => listener,
        Err(e) => {
            tracing::error!(address = %config.listen_address, error = %e, "cannot listen");
            return ExitCode::FAILURE;
        }
    };
    tracing::info!(
        address = %config.listen_address,
        version = env!("CARGO_PKG_VERSION"),
        "listening"
    );
    let started = match app.open() {
        Ok(opened) => {
            opened
                .run_until_stopped(listener, http::shutdown_signal())
                .await
        }
        Err(e) => Err(e),
    };
    match started {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "server failed");
            ExitCode::FAILURE
        }
    }
}

/// `platformsh-exporter healthcheck`: whether the exporter answers `/-/ready`. A 401 (basic
/// auth on every page) still proves a serving exporter.
async fn healthcheck(config: &Config, url: Option<&str>) -> ExitCode {
    // With TLS in the web config, the exporter speaks only TLS. Its certificate names the
    // exporter's public name, not the loopback address asked here: this liveness check does
    // not verify it (it sends nothing secret).
    let tls = config
        .web_config_file
        .as_deref()
        .and_then(|path| WebConfig::load(path).ok())
        .is_some_and(|web| web.tls.is_some());
    let url = url.map_or_else(
        || {
            let address = config.listen_address.replacen("0.0.0.0:", "127.0.0.1:", 1);
            let address = address.replacen("[::]:", "[::1]:", 1);
            let scheme = if tls { "https" } else { "http" };
            format!("{scheme}://{address}/-/ready")
        },
        str::to_owned,
    );
    let client = match reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(5))
        .danger_accept_invalid_certs(tls)
        .build()
    {
        Ok(client) => client,
        Err(e) => {
            eprintln!("unhealthy: {e}");
            return ExitCode::FAILURE;
        }
    };
    match client.get(&url).send().await {
        Ok(answer) if answer.status().is_success() || answer.status().as_u16() == 401 => {
            ExitCode::SUCCESS
        }
        Ok(answer) => {
            eprintln!("unhealthy: {url} answered {}", answer.status());
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("unhealthy: {url}: {e}");
            ExitCode::FAILURE
        }
    }
}

/// `platformsh-exporter setup`: the plan (or what was done) on standard output; exit 1 if
/// any project could not be set up.
async fn setup(config: &Config, apply: bool, output: SetupOutput, set_key: bool) -> ExitCode {
    let options = (|| {
        let api = config.reconcile()?.ok_or_else(|| {
            "setup needs an API token (--platformsh.api-token-file) of a user who administers \
             the projects"
                .to_owned()
        })?;
        let url = config.public_url.clone().ok_or_else(|| {
            "setup needs --webhook.public-url: the URL Platform.sh is to post deliveries to"
                .to_owned()
        })?;
        let key = config.shared_key()?;
        Ok::<_, Box<dyn std::error::Error>>(setup::Options {
            api,
            url,
            key,
            apply,
            set_key,
        })
    })();
    let options = match options {
        Ok(options) => options,
        Err(e) => {
            tracing::error!("{e}");
            return ExitCode::FAILURE;
        }
    };
    if options.key.is_none() {
        tracing::warn!(
            "no shared key (--webhook.shared-key-file): the integrations will send unsigned \
             deliveries, which anyone who knows the URL can forge"
        );
    }
    let report = match setup::run(&options).await {
        Ok(report) => report,
        Err(e) => {
            tracing::error!("{e}");
            return ExitCode::FAILURE;
        }
    };
    let text = match output {
        SetupOutput::Table => setup::table(&report),
        SetupOutput::Json => match serde_json::to_string_pretty(&report) {
            Ok(json) => json + "\n",
            Err(e) => {
                tracing::error!("cannot write the report: {e}");
                return ExitCode::FAILURE;
            }
        },
    };
    let mut out = std::io::stdout().lock();
    if out
        .write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .is_err()
    {
        return ExitCode::FAILURE;
    }
    if report.ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// `platformsh-exporter history`: the store's metrics over time, to a file or standard output.
fn write_history(
    config: &Config,
    options: &history::Options,
    output: Option<&std::path::Path>,
    overwrite: bool,
) -> ExitCode {
    let settings = config.settings();
    let store = &config.storage_path;
    let written = if let Some(path) = output {
        history::Output::create(path, store, overwrite).and_then(|mut file| {
            let written = history::write(store, settings, options, &mut file)?;
            file.finish()?;
            Ok(written)
        })
    } else {
        let mut out = std::io::BufWriter::new(std::io::stdout().lock());
        history::write(store, settings, options, &mut out).and_then(|written| {
            out.flush()
                .map_err(|e| format!("cannot write the history: {e}"))?;
            Ok(written)
        })
    };
    match written {
        Ok(written) => {
            tracing::info!(
                activities = written.activities,
                metrics = written.metrics,
                samples = written.samples,
                "wrote the history"
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            tracing::error!("{e}");
            ExitCode::FAILURE
        }
    }
}
