//! The `sluice` command: parse the CLI and hand it to the subcommand (see [`cli`]).

mod cli;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

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
    /// Summarise the running agent's /status: listeners, and each backend's state, buffer,
    /// queue, spool, replay, drops and last error. Exit 0 when every backend is healthy or
    /// starting, 1 when one is failing, stopped or in memory_fallback, 2 when the agent cannot
    /// be reached.
    Status {
        #[command(flatten)]
        agent: AgentApi,
        /// Print the agent's JSON as received instead of the summary (same exit status).
        #[arg(long)]
        json: bool,
    },
    /// Print every window the running agent flushes, as it flushes it, until Ctrl-C: a header
    /// with the window's time range, then `name{tags} kind value` per series.
    Tap {
        #[command(flatten)]
        agent: AgentApi,
        /// Only series whose name contains SUBSTRING (the agent filters them).
        #[arg(long = "match", value_name = "SUBSTRING")]
        pattern: Option<String>,
        /// Print the agent's JSON lines as received: one window per line, or {"missed":N}
        /// when this tap fell behind and lost N windows.
        #[arg(long)]
        json: bool,
    },
    /// Work with the config's alert rules ([rules.*]).
    Rules {
        #[command(subcommand)]
        command: RulesCommand,
    },
}

#[allow(clippy::doc_markdown)]
#[derive(Debug, Subcommand)]
enum RulesCommand {
    /// Print the rules as a Prometheus rule file (for Prometheus or vmalert), over the names
    /// the Prometheus outputs give the series. A rule with no Prometheus counterpart (min,
    /// max) is left out, with the reason on stderr.
    Export {
        /// Config file. Default: as `run` finds its config.
        #[arg(long)]
        config: Option<PathBuf>,
    },
}

/// Where the running agent's API is, for the commands that read it.
#[allow(clippy::doc_markdown)]
#[derive(Debug, clap::Args)]
struct AgentApi {
    /// The agent's API address (host:port). Wins over --config.
    #[arg(long, value_name = "ADDR")]
    api: Option<SocketAddr>,
    /// Read [api] listen from this config file. Default: as `run` finds its config
    /// ($SLUICE_CONFIG, then /etc/sluice/sluice.toml), else 127.0.0.1:9102.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
}

fn main() -> ExitCode {
    let args = Cli::parse();
    match args.command {
        None => cli::run(args.config),
        Some(Command::Run { config }) => cli::run(config.or(args.config)),
        Some(Command::Validate { config }) => cli::validate(&config),
        Some(Command::Send { udp, unix, lines }) => cli::send(udp, unix.as_deref(), &lines),
        Some(Command::Status { agent, json }) => cli::status(agent.api, agent.config, json),
        Some(Command::Tap { agent, pattern, json }) => cli::tap(agent.api, agent.config, pattern.as_deref(), json),
        Some(Command::Rules { command: RulesCommand::Export { config } }) => cli::export_rules(config),
    }
}
