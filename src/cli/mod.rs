//! The subcommands of the `sluice` binary, one file each.

mod locate;
mod run;
mod send;
mod validate;

pub use run::run;
pub use send::send;
pub use validate::validate;
