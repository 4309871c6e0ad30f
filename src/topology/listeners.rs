//! The running listeners, each with its own stop signal, so that a reload can replace some of
//! them while the others keep receiving untouched.
//!
//! A listener is identified by its [`Key`]: kind, address or path, and the options it was
//! bound with. A reload compares the running keys with the new config's: equal keys keep
//! running; the others are bound, started and stopped in an order that never loses the
//! running set to a listener that cannot be bound (see [`Listeners::reload`]).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};

use socket2::Type;
use tokio::sync::{mpsc, watch};

use super::StartError;
use crate::config::{Config, HostConfig};
use crate::sources::host;
use crate::aggregator::input::{BatchPool, Input};
use crate::sources::statsd::{stream, udp, unix};
use crate::systemd::Activation;
use crate::telemetry::Telemetry;

/// What identifies a running listener: a change to any part of it replaces the listener.
#[derive(Debug, Clone, PartialEq)]
pub enum Key {
    /// The host sampler, with its whole `[sources.host]` table.
    Host(HostConfig),
    /// A UDP socket.
    Udp {
        /// The configured address.
        addr: SocketAddr,
        /// `receive_buffer` in bytes.
        receive_buffer: usize,
    },
    /// A Unix datagram socket.
    Unix {
        /// The socket file.
        path: PathBuf,
        /// `socket_mode`.
        mode: u32,
        /// `receive_buffer` in bytes.
        receive_buffer: usize,
    },
    /// A Unix stream socket.
    Stream {
        /// The socket file.
        path: PathBuf,
        /// `socket_mode`.
        mode: u32,
    },
}

/// Where a listener receives: two listeners at one place cannot both be bound.
#[derive(Debug, PartialEq)]
enum Place<'a> {
    Host,
    Udp(SocketAddr),
    Path(&'a Path),
}

impl Key {
    /// The config key and value, for messages: `udp = "127.0.0.1:8125"`.
    fn describe(&self) -> String {
        match self {
            Self::Host(_) => "[sources.host]".to_owned(),
            Self::Udp { addr, .. } => format!("udp = \"{addr}\""),
            Self::Unix { path, .. } => format!("unix = \"{}\"", path.display()),
            Self::Stream { path, .. } => format!("unix_stream = \"{}\"", path.display()),
        }
    }

    fn place(&self) -> Place<'_> {
        match self {
            Self::Host(_) => Place::Host,
            Self::Udp { addr, .. } => Place::Udp(*addr),
            Self::Unix { path, .. } | Self::Stream { path, .. } => Place::Path(path),
        }
    }
}

/// Every listener `config` asks for, in start order: the host sampler, then UDP, Unix datagram
/// and Unix stream sockets in config order.
pub fn keys(config: &Config) -> Result<Vec<Key>, StartError> {
    let mut keys: Vec<Key> = config.sources.host.iter().cloned().map(Key::Host).collect();
    let Some(statsd) = &config.sources.statsd else { return Ok(keys) };
    let receive_buffer = usize::try_from(statsd.receive_buffer.0).unwrap_or(usize::MAX);
    let mode = statsd
        .socket_mode_bits()
        .ok_or_else(|| StartError::Invalid(format!("invalid socket_mode {:?}", statsd.socket_mode)))?;
    keys.extend(statsd.udp.iter().map(|&addr| Key::Udp { addr, receive_buffer }));
    keys.extend(statsd.unix.iter().map(|path| Key::Unix { path: path.clone(), mode, receive_buffer }));
    keys.extend(statsd.unix_stream.iter().map(|path| Key::Stream { path: path.clone(), mode }));
    Ok(keys)
}

/// A listener bound and waiting to run.
pub enum Bound {
    Udp(udp::UdpListener),
    Unix(unix::UnixListener),
    Stream(stream::StreamListener),
    /// Not a socket: the host sampler, which feeds the aggregator the same way.
    Host(host::HostSource),
}

impl Bound {
    fn label(&self) -> String {
        match self {
            Self::Udp(l) => l.label(),
            Self::Unix(l) => l.label(),
            Self::Stream(l) => l.label(),
            Self::Host(_) => host::LABEL.to_owned(),
        }
    }
}

/// Binds the listener `key`, adopting the matching socket of `activation` if there is one.
/// Returns whether the socket was adopted.
pub fn bind(key: &Key, activation: &mut Activation) -> Result<(Bound, bool), StartError> {
    let path_error =
        |key, path: &Path, source| StartError::Listener { key, target: path.display().to_string(), source };
    Ok(match key {
        Key::Host(h) => {
            let context = host::Context::new(h.per_cpu, h.exclude_fstypes.clone(), h.exclude_devices.clone());
            let source = host::HostSource { interval: h.interval.0, sampler: host::Sampler::new(context) };
            (Bound::Host(source), false)
        }
        Key::Udp { addr, receive_buffer } => {
            let inherited = activation.take_udp(*addr);
            let adopted = inherited.is_some();
            let l = match inherited {
                Some(socket) => udp::adopt(socket, *receive_buffer),
                None => udp::bind(*addr, *receive_buffer),
            }
            .map_err(|source| StartError::Listener { key: "udp", target: addr.to_string(), source })?;
            (Bound::Udp(l), adopted)
        }
        Key::Unix { path, mode, receive_buffer } => {
            let inherited = activation.take_unix(path, Type::DGRAM);
            let adopted = inherited.is_some();
            let l = match inherited {
                Some(socket) => unix::adopt(socket, path, *receive_buffer),
                None => unix::bind(path, *mode, *receive_buffer),
            }
            .map_err(|source| path_error("unix", path, source))?;
            (Bound::Unix(l), adopted)
        }
        Key::Stream { path, mode } => {
            let l = stream::bind(path, *mode).map_err(|source| path_error("unix_stream", path, source))?;
            (Bound::Stream(l), false)
        }
    })
}

/// How a running listener is told to stop, and waited for.
enum Handle {
    /// A listener on its own OS thread, which checks the flag at least every 100 ms.
    Thread(Arc<AtomicBool>, std::thread::JoinHandle<std::io::Result<()>>),
    /// A listener on the runtime.
    Task(watch::Sender<bool>, tokio::task::JoinHandle<std::io::Result<()>>),
}

/// One running listener.
struct Running {
    key: Key,
    /// Its socket came from the service manager, which still holds it.
    adopted: bool,
    /// Its entry in [`Telemetry::listeners`].
    index: usize,
    handle: Handle,
}

impl Running {
    /// Stops the listener and waits until it has drained what the kernel held and sent its
    /// last batch; then marks its telemetry as no longer running (the counts stay).
    async fn stop(self, telemetry: &Telemetry) {
        match self.handle {
            Handle::Thread(flag, thread) => {
                flag.store(true, Relaxed);
                let _ = tokio::task::spawn_blocking(move || thread.join()).await;
            }
            Handle::Task(stop, task) => {
                let _ = stop.send(true);
                let _ = task.await;
            }
        }
        if let Some(stats) = telemetry.listeners().get(self.index) {
            stats.running.store(false, Relaxed);
            // The socket is gone: its kernel drop counter with it.
            stats.udp_inode.store(0, Relaxed);
        }
    }
}

/// Every running listener, and what a new one needs to start.
pub struct Listeners {
    running: Vec<Running>,
    telemetry: Arc<Telemetry>,
    pool: Arc<BatchPool>,
    /// Held until [`Listeners::shutdown`], so the aggregator's input stays open across a reload
    /// even while, for a moment, no listener runs.
    tx: mpsc::Sender<Input>,
}

impl Listeners {
    /// An empty set whose listeners will count in `telemetry` and send to `tx`.
    pub fn new(telemetry: Arc<Telemetry>, pool: Arc<BatchPool>, tx: mpsc::Sender<Input>) -> Self {
        Self { running: Vec::new(), telemetry, pool, tx }
    }

    /// How many listeners run.
    pub fn len(&self) -> usize {
        self.running.len()
    }

    /// Starts `bound` as the listener `key`.
    pub fn start(&mut self, key: Key, bound: Bound, adopted: bool) -> Result<(), StartError> {
        let (index, stats) = self.telemetry.listener(&bound.label());
        let (pool, tx) = (Arc::clone(&self.pool), self.tx.clone());
        let flag = Arc::new(AtomicBool::new(false));
        let thread = match bound {
            Bound::Udp(l) => l.run(index, stats, pool, tx, Arc::clone(&flag)),
            Bound::Unix(l) => l.run(index, stats, pool, tx, Arc::clone(&flag)),
            Bound::Host(h) => h.run(index, tx, Arc::clone(&flag)),
            Bound::Stream(l) => {
                let (stop, stopped) = watch::channel(false);
                let task = tokio::spawn(l.run(index, stats, pool, tx, stopped));
                self.running.push(Running { key, adopted, index, handle: Handle::Task(stop, task) });
                return Ok(());
            }
        };
        let thread = thread.map_err(|e| StartError::Invalid(format!("cannot start a listener thread: {e}")))?;
        self.running.push(Running { key, adopted, index, handle: Handle::Thread(flag, thread) });
        Ok(())
    }

    /// Makes the running listeners those of `next`. Listeners whose key is unchanged keep
    /// running untouched. New listeners at a new place are bound first; any that cannot be
    /// bound refuses the reload with nothing changed. A listener whose options changed at the
    /// same place (and the host sampler) is stopped, drained and bound again; if that fails,
    /// the previous ones are bound again and the reload is refused. Only then do the new
    /// listeners start, and the removed ones stop, each draining what the kernel holds.
    /// Returns how many listeners were `(stopped, started)`.
    pub async fn reload(&mut self, next: Vec<Key>) -> Result<(usize, usize), StartError> {
        let added: Vec<Key> = next.iter().filter(|k| !self.running.iter().any(|r| r.key == **k)).cloned().collect();
        let (retired, kept): (Vec<Running>, Vec<Running>) =
            std::mem::take(&mut self.running).into_iter().partition(|r| !next.contains(&r.key));
        self.running = kept;
        let holds_place = |key: &Key| retired.iter().any(|r| r.key.place() == key.place());
        if let Some(r) = retired.iter().find(|r| r.adopted && added.iter().any(|k| k.place() == r.key.place())) {
            let what = r.key.describe();
            self.running.extend(retired);
            return Err(StartError::Invalid(format!(
                "[sources.statsd] {what} is a socket handed over by the service manager: change its options in \
                 the socket unit and restart"
            )));
        }
        let (rebind, fresh): (Vec<Key>, Vec<Key>) = added.into_iter().partition(|k| holds_place(k));

        // Phase 1: new places. Nothing runs yet, so a failure drops what was bound and returns.
        let mut none = Activation::default();
        let mut bound = Vec::new();
        for key in fresh {
            match bind(&key, &mut none) {
                Ok((b, _)) => bound.push((key, b)),
                Err(e) => {
                    self.running.extend(retired);
                    return Err(e);
                }
            }
        }
        // Phase 2: places taken by a listener being replaced. Its socket must close first.
        let (moving, retired): (Vec<Running>, Vec<Running>) =
            retired.into_iter().partition(|r| rebind.iter().any(|k| k.place() == r.key.place()));
        let previous: Vec<Key> = moving.iter().map(|r| r.key.clone()).collect();
        for r in moving {
            r.stop(&self.telemetry).await;
        }
        for key in rebind {
            match bind(&key, &mut none) {
                Ok((b, _)) => bound.push((key, b)),
                Err(e) => {
                    // Close what the new config bound, then put the previous listeners back.
                    drop(bound);
                    for key in previous {
                        let restored = bind(&key, &mut none).and_then(|(b, _)| self.start(key, b, false));
                        if let Err(e) = restored {
                            tracing::error!(error = %e, "A listener stopped for the reload cannot be bound again.");
                        }
                    }
                    self.running.extend(retired);
                    return Err(e);
                }
            }
        }
        let started = bound.len();
        for (key, b) in bound {
            self.start(key, b, false)?;
        }
        let stopped = retired.len() + previous.len();
        for r in retired {
            r.stop(&self.telemetry).await;
        }
        Ok((stopped, started))
    }

    /// Stops every listener, each draining what the kernel holds, then drops the last sender:
    /// the aggregator sees the end of its input.
    pub async fn shutdown(self) {
        let Self { running, telemetry, tx, .. } = self;
        // All at once: every listener drains in parallel.
        for r in &running {
            match &r.handle {
                Handle::Thread(flag, _) => flag.store(true, Relaxed),
                Handle::Task(stop, _) => {
                    let _ = stop.send(true);
                }
            }
        }
        for r in running {
            r.stop(&telemetry).await;
        }
        // The listeners' clones are gone: this is the last sender.
        drop(tx);
    }
}
