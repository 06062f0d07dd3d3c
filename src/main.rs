use std::process::ExitCode;

use clap::Parser;
use platformsh_exporter::{Config, http};
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> ExitCode {
    let config = Config::parse();
    tracing_subscriber::fmt()
        // Logs are diagnostics, not output: stderr, where service managers collect them.
        .with_writer(std::io::stderr)
        .with_env_filter(EnvFilter::try_new(&config.log_level).unwrap_or_else(|e| {
            eprintln!(
                "invalid --log.level {:?}: {e}; using info",
                config.log_level
            );
            EnvFilter::new("info")
        }))
        .init();
    if let Err(e) = http::validate(&config) {
        tracing::error!("{e}");
        return ExitCode::FAILURE;
    }
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
    match http::run(listener, config, http::shutdown_signal()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "server failed");
            ExitCode::FAILURE
        }
    }
}
