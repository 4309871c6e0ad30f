//! The `sluice` command: parse the CLI, set up logging, load the config, run.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use sluice::config::{self, Config, LogFormat};

/// A push-based metrics agent: StatsD/DogStatsD in, windows out to every backend.
#[derive(Debug, Parser)]
#[command(name = "sluice", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// Config file for `sluice` without a subcommand (same as `sluice run --config`).
    #[arg(long, global = false)]
    config: Option<PathBuf>,
}

// Doc comments here are the `--help` text, read in a terminal, not rendered as Markdown.
#[allow(clippy::doc_markdown)]
#[derive(Debug, Subcommand)]
enum Command {
    /// Run the agent (the default).
    Run {
        /// Config file. Default: $SLUICE_CONFIG, then /etc/sluice/sluice.toml, else the embedded default.
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Check a config file and exit: 0 when valid, 1 with the key and line otherwise.
    Validate {
        /// Config file to check.
        #[arg(long)]
        config: PathBuf,
    },
    /// Send StatsD lines to a running agent (one datagram per line).
    Send {
        /// UDP address of the agent.
        #[arg(long, default_value = "127.0.0.1:8125", conflicts_with = "unix")]
        udp: SocketAddr,
        /// Unix datagram socket of the agent, instead of UDP.
        #[arg(long)]
        unix: Option<PathBuf>,
        /// Lines such as `app.hits:1|c|#route:home`.
        #[arg(required = true)]
        lines: Vec<String>,
    },
}

/// Where `sluice run` looks when no `--config` is given, after `$SLUICE_CONFIG`.
const SYSTEM_CONFIG: &str = "/etc/sluice/sluice.toml";

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        None => run(cli.config),
        Some(Command::Run { config }) => run(config.or(cli.config)),
        Some(Command::Validate { config }) => validate(&config),
        Some(Command::Send { udp, unix, lines }) => send(udp, unix.as_deref(), &lines),
    }
}

fn run(path: Option<PathBuf>) -> ExitCode {
    let (config, origin) = match load(path) {
        Ok(found) => found,
        Err(e) => {
            eprintln!("sluice: {e}");
            return ExitCode::FAILURE;
        }
    };
    init_logging(&config);
    tracing::info!(config = %origin, version = env!("CARGO_PKG_VERSION"), "Starting sluice.");
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            tracing::error!(error = %e, "Cannot start the async runtime.");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(sluice::topology::run(config, shutdown_signal(), |_| {}));
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

/// The config to run with and where it came from: `--config`, `$SLUICE_CONFIG`,
/// `/etc/sluice/sluice.toml`, else the embedded default.
fn load(path: Option<PathBuf>) -> Result<(Config, String), Box<config::ConfigError>> {
    let path = path.or_else(|| std::env::var_os("SLUICE_CONFIG").map(PathBuf::from)).or_else(|| {
        let system = PathBuf::from(SYSTEM_CONFIG);
        system.exists().then_some(system)
    });
    match path {
        Some(path) => Ok((config::load(&path)?, path.display().to_string())),
        None => Ok((config::parse(config::DEFAULT_CONFIG, config::DEFAULT_ORIGIN)?, config::DEFAULT_ORIGIN.to_owned())),
    }
}

fn validate(path: &Path) -> ExitCode {
    match config::load(path) {
        Ok(_) => {
            println!("{}: valid", path.display());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("sluice: {e}");
            ExitCode::FAILURE
        }
    }
}

fn send(udp: SocketAddr, unix: Option<&Path>, lines: &[String]) -> ExitCode {
    let sent = match unix {
        Some(path) => std::os::unix::net::UnixDatagram::unbound()
            .and_then(|s| lines.iter().try_for_each(|l| s.send_to(l.as_bytes(), path).map(drop))),
        None => std::net::UdpSocket::bind(("127.0.0.1", 0))
            .and_then(|s| lines.iter().try_for_each(|l| s.send_to(l.as_bytes(), udp).map(drop))),
    };
    match sent {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("sluice: cannot send: {e}");
            ExitCode::FAILURE
        }
    }
}

fn init_logging(config: &Config) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(&config.log.level))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    match config.log.format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
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
}
