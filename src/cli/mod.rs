//! The subcommands of the `sluice` binary, one file (or directory) each, and what the
//! commands reading a running agent's API share: its address, an HTTP GET, exit statuses.

mod exit;
mod http;
mod locate;
mod rules;
mod run;
mod send;
mod status;
mod tap;
mod tls;
mod validate;

pub use rules::export_rules;
pub use run::run;
pub use send::send;
pub use status::status;
pub use tap::tap;
pub use validate::validate;
