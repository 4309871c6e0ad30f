//! Exit statuses and output of the commands that read a running agent's API (`status`, `tap`).

use std::io::{self, Write};
use std::process::ExitCode;

/// `sluice status`: a backend is failing, stopped, or buffering in memory because its disk
/// buffer failed.
pub const UNHEALTHY: u8 = 1;

/// The agent cannot be asked: nothing answers at the address, or the answer is not the API's.
pub const UNREACHABLE: u8 = 2;

/// Prints `sluice: {message}` on standard error and gives [`UNREACHABLE`].
pub fn unreachable(message: &str) -> ExitCode {
    eprintln!("sluice: {message}");
    ExitCode::from(UNREACHABLE)
}

/// Writes `text` to standard output and flushes it. `Err` means stop now with that status: 0
/// when the reader went away (`sluice tap | head`), 1 when standard output failed otherwise.
pub fn print(text: &str) -> Result<(), ExitCode> {
    let mut out = io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Err(ExitCode::SUCCESS),
        Err(e) => {
            eprintln!("sluice: cannot write to standard output: {e}");
            Err(ExitCode::FAILURE)
        }
    }
}
