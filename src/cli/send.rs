//! `sluice send LINE…`: a test client sending StatsD lines, one datagram per line.

use std::net::SocketAddr;
use std::path::Path;
use std::process::ExitCode;

/// Sends each of `lines` as one datagram to the Unix socket `unix` if given, else to `udp`.
pub fn send(udp: SocketAddr, unix: Option<&Path>, lines: &[String]) -> ExitCode {
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
