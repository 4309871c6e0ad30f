//! Alert rules over the agent's own windows, delivered to Alertmanager (`docs/alerting.md`).
//!
//! - [`config`]: `[rules.NAME]` and `[alerting]` as written.
//! - [`rule`]: a rule checked and compiled; [`template`]: its annotations.
//! - [`eval`]: the pure state machine, one window at a time.
//! - [`state`]: the alerts saved in `data_dir` across restarts.
//! - [`alertmanager`]: API v2 delivery, one task and outbox per Alertmanager.
//! - [`export`]: the rules as a Prometheus rule file (`sluice rules export`).
//! - [`task`]: the task that ties them together, fed by the aggregator.

pub mod alertmanager;
pub mod config;
pub mod eval;
pub mod export;

pub mod rule;
pub mod state;
pub mod task;
pub mod template;
#[cfg(test)]
mod tests;

pub use config::{AlertingConfig, DivideBy, RuleConfig};
pub use rule::{Rule, RuleError};
pub use task::{Handle, Plan, PlanError, spawn};
