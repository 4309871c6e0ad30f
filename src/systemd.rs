//! The service manager's protocols, spoken with std and libc: readiness and watchdog
//! notifications (`sd_notify(3)`: datagrams to `$NOTIFY_SOCKET`) and socket activation
//! (`sd_listen_fds(3)`: sockets inherited from fd 3 on, described by `$LISTEN_FDS`,
//! `$LISTEN_PID` and `$LISTEN_FDNAMES`). Without those variables every function here does
//! nothing, so sluice runs the same outside systemd.

use std::io;
use std::os::fd::{FromRawFd, RawFd};
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr as UnixAddr, UnixDatagram};
use std::path::Path;
use std::time::Duration;

use socket2::{Domain, SockAddr, Socket, Type};

/// The first inherited descriptor (`SD_LISTEN_FDS_START`).
const LISTEN_FDS_START: RawFd = 3;

/// Sends `state` (`READY=1`, `WATCHDOG=1`, `STOPPING=1`, …) to the service manager. Returns
/// `Ok(false)` when sluice was not started with `$NOTIFY_SOCKET`.
pub fn notify(state: &str) -> io::Result<bool> {
    let Some(target) = std::env::var_os("NOTIFY_SOCKET") else { return Ok(false) };
    let target = target.to_string_lossy().into_owned();
    // `@name` is a socket in the abstract namespace.
    let addr = match target.strip_prefix('@') {
        Some(name) => UnixAddr::from_abstract_name(name.as_bytes())?,
        None => UnixAddr::from_pathname(&target)?,
    };
    UnixDatagram::unbound()?.send_to_addr(state.as_bytes(), &addr)?;
    Ok(true)
}

/// How often to send `WATCHDOG=1`: half of `$WATCHDOG_USEC`, when the watchdog is on and
/// meant for this process (`$WATCHDOG_PID`, if set, is our pid).
pub fn watchdog_interval() -> Option<Duration> {
    let usec: u64 = std::env::var("WATCHDOG_USEC").ok()?.parse().ok().filter(|&u| u > 0)?;
    if let Ok(pid) = std::env::var("WATCHDOG_PID")
        && pid.parse::<u32>().ok() != Some(std::process::id())
    {
        return None;
    }
    Some(Duration::from_micros(usec / 2))
}

/// One socket handed over by the service manager.
#[derive(Debug)]
struct Inherited {
    socket: Socket,
    name: String,
    local: Option<SockAddr>,
    ty: Option<Type>,
}

/// Sockets inherited through socket activation, waiting to be adopted by the listener whose
/// configured address or path they are bound to.
#[derive(Debug, Default)]
pub struct Activation {
    sockets: Vec<Inherited>,
}

impl Activation {
    /// Takes ownership of the descriptors `$LISTEN_FDS` announces, if `$LISTEN_PID` is this
    /// process (otherwise they were meant for a parent and are left alone). Each is marked
    /// close-on-exec.
    pub fn from_env() -> Self {
        let pid_matches =
            std::env::var("LISTEN_PID").ok().and_then(|p| p.parse::<u32>().ok()) == Some(std::process::id());
        let count: RawFd = std::env::var("LISTEN_FDS").ok().and_then(|n| n.parse().ok()).unwrap_or(0);
        if !pid_matches || count <= 0 {
            return Self::default();
        }
        let names = std::env::var("LISTEN_FDNAMES").unwrap_or_default();
        let mut names = names.split(':');
        let sockets = (LISTEN_FDS_START..LISTEN_FDS_START + count)
            .map(|fd| {
                // SAFETY: the service manager passed `fd` to this process (LISTEN_PID is ours)
                // and nothing else in sluice owns it; it is taken exactly once, here.
                let socket = unsafe { Socket::from_raw_fd(fd) };
                if let Err(e) = socket.set_cloexec(true) {
                    tracing::warn!(fd, error = %e, "Cannot mark an inherited socket close-on-exec.");
                }
                let name = names.next().unwrap_or("").to_owned();
                Inherited { local: socket.local_addr().ok(), ty: socket.r#type().ok(), socket, name }
            })
            .collect();
        Self { sockets }
    }

    /// Sockets not adopted yet.
    pub fn len(&self) -> usize {
        self.sockets.len()
    }

    /// True when no socket is waiting.
    pub fn is_empty(&self) -> bool {
        self.sockets.is_empty()
    }

    /// The inherited UDP socket bound to `addr`, if any.
    pub fn take_udp(&mut self, addr: std::net::SocketAddr) -> Option<Socket> {
        self.take(|s| s.ty == Some(Type::DGRAM) && s.local.as_ref().and_then(SockAddr::as_socket) == Some(addr))
    }

    /// The inherited Unix socket of type `ty` bound to `path`, if any.
    pub fn take_unix(&mut self, path: &Path, ty: Type) -> Option<Socket> {
        self.take(|s| {
            s.ty == Some(ty)
                && s.local.as_ref().is_some_and(|a| a.domain() == Domain::UNIX && a.as_pathname() == Some(path))
        })
    }

    fn take(&mut self, matches: impl Fn(&Inherited) -> bool) -> Option<Socket> {
        let i = self.sockets.iter().position(matches)?;
        let inherited = self.sockets.swap_remove(i);
        tracing::info!(name = inherited.name, "Adopted a socket from the service manager.");
        Some(inherited.socket)
    }

    /// Closes the sockets no listener adopted, naming each in a warning: the config no longer
    /// lists their address.
    pub fn close_unused(&mut self) {
        for s in self.sockets.drain(..) {
            let local = s.local.as_ref().map(describe).unwrap_or_default();
            tracing::warn!(name = s.name, local, "Closing an inherited socket no listener is configured for.");
        }
    }
}

fn describe(addr: &SockAddr) -> String {
    if let Some(a) = addr.as_socket() {
        return a.to_string();
    }
    addr.as_pathname().map_or_else(String::new, |p| p.display().to_string())
}
