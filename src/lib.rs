//! sluice: a push-based metrics agent. StatsD/DogStatsD lines in over local sockets,
//! aggregated in windows, fanned out to every configured backend.
//!
//! # Layout
//!
//! - [`config`]: the TOML schema and its loader.
//! - [`sources`]: where samples come from (the StatsD listeners and their parser).
//! - [`aggregator`]: one task owning the window state; the state itself is pure.
//! - [`alerting`]: alert rules over the flushed windows, delivered to Alertmanager.
//! - [`api`]: the HTTP API and the agent's own telemetry.
//! - [`systemd`]: readiness, watchdog and socket activation for the service manager.
//! - [`tap`]: every flushed window, offered to `GET /tap` watchers without slowing the
//!   aggregator.
//! - [`topology`]: wires sources → aggregator → backends and owns the shutdown order.
//!
//! Backends live in the `backends` crate and only ever see flushed windows. The `sluice`
//! binary's subcommands (`run`, `validate`, `send`, …) live in `src/cli/`, one file each.

pub mod aggregator;
pub mod alerting;
pub mod api;
pub mod config;
#[doc(hidden)]
pub mod fuzz;
pub mod sources;
pub mod systemd;
pub mod tap;
pub mod telemetry;
pub mod topology;
