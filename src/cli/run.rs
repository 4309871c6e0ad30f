//! `sluice run [--config FILE]` (and `sluice` alone): run the agent under a service manager's
//! conventions — readiness and watchdog notifications, reload on SIGHUP, stop on SIGTERM.

use std::path::PathBuf;
use std::process::ExitCode;

use sluice::config::{self, Config, LogFormat};
use sluice::systemd;
use tokio::sync::mpsc;

use super::locate::config_path;

/// Runs the agent until SIGTERM or SIGINT with the config `path`, located as [`config_path`] says.
pub fn run(path: Option<PathBuf>) -> ExitCode {
    let (config, origin, path) = match load(path) {
        Ok(found) => found,
        Err(e) => {
            eprintln!("sluice: {e}");
            return ExitCode::FAILURE;
        }
    };
    init_logging(&config);
    tracing::info!(config = %origin, version = env!("CARGO_PKG_VERSION"), "Starting sluice.");
    // Secrets in it print as `***` (`backends::Secret`).
    tracing::debug!(config = ?config, "Configuration in effect.");
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            tracing::error!(error = %e, "Cannot start the async runtime.");
            return ExitCode::FAILURE;
        }
    };
    // Taken before anything else opens a descriptor that could be mistaken for one of them.
    let activation = systemd::Activation::from_env();
    let (reload_tx, reload_rx) = tokio::sync::mpsc::channel(1);
    let result = runtime.block_on(async {
        if let Some(every) = systemd::watchdog_interval() {
            tokio::spawn(watchdog(every));
        }
        tokio::spawn(reload_on_sighup(path, reload_tx));
        sluice::topology::run(config, activation, reload_rx, shutdown_signal(), |_| notify("READY=1")).await
    });
    // A backend stuck in a blocking write (a console on a full pipe) must not hold the exit:
    // its shutdown deadline already passed and its loss was counted and logged.
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "Cannot start.");
            ExitCode::FAILURE
        }
    }
}

/// The config to run with, where it came from and the file a reload reads again: `--config`,
/// `$SLUICE_CONFIG`, `/etc/sluice/sluice.toml`, else the embedded default (no file).
pub(super) fn load(path: Option<PathBuf>) -> Result<(Config, String, Option<PathBuf>), Box<config::ConfigError>> {
    match config_path(path) {
        Some(path) => Ok((config::load(&path)?, path.display().to_string(), Some(path))),
        None => Ok((
            config::parse(config::DEFAULT_CONFIG, config::DEFAULT_ORIGIN)?,
            config::DEFAULT_ORIGIN.to_owned(),
            None,
        )),
    }
}

fn init_logging(config: &Config) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(&config.log.level))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    // Colours only on a terminal: journald and log files get plain text.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(ansi);
    match config.log.format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

/// Tells the service manager `state`, logging a failure (the service manager would then
/// time the start out or kill sluice for a missed watchdog, so the log says why).
fn notify(state: &str) {
    if let Err(e) = systemd::notify(state) {
        tracing::warn!(state, error = %e, "Cannot notify the service manager.");
    }
}

/// Pings the service manager's watchdog every `every` (half its timeout) while the runtime
/// runs, so a wedged runtime gets sluice restarted.
async fn watchdog(every: std::time::Duration) {
    tracing::info!(interval_ms = every.as_millis() as u64, "Watchdog enabled.");
    let mut tick = tokio::time::interval(every);
    loop {
        tick.tick().await;
        notify("WATCHDOG=1");
    }
}

/// On every SIGHUP, reads and validates the config file again and hands it to the topology;
/// an invalid file is refused with its error and the running config stays.
async fn reload_on_sighup(path: Option<PathBuf>, reloads: mpsc::Sender<Config>) {
    use tokio::signal::unix::{SignalKind, signal};
    let Ok(mut hup) = signal(SignalKind::hangup()) else {
        tracing::error!("Cannot install the SIGHUP handler; reloading is unavailable.");
        return;
    };
    while hup.recv().await.is_some() {
        let loaded = match &path {
            Some(path) => config::load(path),
            None => config::parse(config::DEFAULT_CONFIG, config::DEFAULT_ORIGIN),
        };
        let origin = path.as_ref().map_or_else(|| config::DEFAULT_ORIGIN.to_owned(), |p| p.display().to_string());
        match loaded {
            Ok(config) => {
                tracing::info!(config = %origin, "SIGHUP received: reloading.");
                tracing::debug!(config = ?config, "Configuration to apply.");
                if reloads.send(config).await.is_err() {
                    return;
                }
            }
            Err(e) => {
                tracing::error!(config = %origin, error = %e, "Reload refused: the new configuration is invalid.");
            }
        }
    }
}

/// Resolves on SIGTERM or SIGINT.
async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) = (signal(SignalKind::terminate()), signal(SignalKind::interrupt())) else {
        tracing::error!("Cannot install signal handlers; stop with SIGKILL.");
        return std::future::pending().await;
    };
    tokio::select! {
        _ = term.recv() => tracing::info!("SIGTERM received."),
        _ = int.recv() => tracing::info!("SIGINT received."),
    }
    notify("STOPPING=1");
}
