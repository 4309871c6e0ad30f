//! Wires sources → aggregator → backends, and owns the start and shutdown order.
//!
//! Start: bind the API, build every backend, bind every listener — any failure stops here,
//! before anything runs. Then run them and report ready.
//!
//! Shutdown: raise every listener's stop signal; each drains what the kernel already holds and
//! drops its sender, then the topology drops the one it kept for reloads. When the last
//! sender is gone the aggregator sees the end of its input, flushes the open window and
//! returns, which ends the fan-out's input; the fan-out publishes that window and returns
//! once the backends a reload is retiring have stopped; the backends then deliver what they
//! hold, all within one `[agent].shutdown_timeout`; a
//! disk buffer keeps what is left in its spool (every window was spooled before it was sent)
//! and syncs it. The aggregator's end also ends every `/tap` stream, after the final window,
//! and the alert rules' task, which meanwhile hands what it holds to the Alertmanagers.
//! The API goes last so `/metrics` can be read until the end, with a short deadline for a tap
//! client that stopped reading.
//!
//! Reload (a new, already validated [`Config`] on the `reloads` channel, sent on SIGHUP):
//! window settings (`[agent]` flush interval, hostname, tags, limits; percentiles and buckets)
//! apply to the open window, which is kept; sinks whose table changed are rebuilt, added or
//! removed through the fan-out's control channel (the aggregator only publishes windows) — a
//! replaced backend first delivers what it holds, in the background, while its
//! successor's queue takes the next windows; the successor starts (opens the spool, reads its
//! state, sends) once the replaced one has stopped (see [`backends::delivery::Handover`]).
//! Listeners (and the host sampler) whose kind, address or options changed are replaced, the
//! others keep running untouched — see
//! [`listeners::Listeners::reload`] for the order that refuses a reload whose new listener
//! cannot be bound with nothing changed. The alert rules and `[alerting]` are replaced, each
//! rule that watches the same series keeping its alerts. The API's tokens (`[api.auth]`, its `tokens_file`
//! read again) are replaced; `[api] listen` and `[log]` are bound once: a change to them is
//! logged and takes effect at the next restart.

mod listeners;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;

use backends::delivery::{Change, DeliveryHandle, Fanout, FanoutControl, Handover, Predecessor};
use backends::prometheus::Mappings;
use backends::{BuildContext, BuildError};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};

use crate::aggregator::input::BatchPool;
use crate::aggregator::window::{DropReason, WindowSettings, WindowState};
use crate::aggregator::{Aggregator, Control};
use crate::alerting;
use crate::api::auth::{ApiAuth, Auth, AuthError};
use crate::api::tls::{ApiTls, Certificate, TlsError};
use crate::config::{Config, SinkConfig};
use crate::sources::statsd::parser::ParseError;
use crate::systemd::Activation;
use crate::tap;
use crate::telemetry::Telemetry;
use listeners::Listeners;

/// Batches in flight between the listeners and the aggregator (a StatsD batch holds up to
/// about 256 KiB, so at most 8 MiB wait here). When the aggregator falls behind, listeners
/// wait and the kernel's socket buffers absorb the burst.
const INPUT_QUEUE: usize = 64;

/// How long the API may take to finish its answers at shutdown.
const API_SHUTDOWN: std::time::Duration = std::time::Duration::from_secs(1);

/// Why the agent could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The HTTP API's address could not be bound.
    #[error("cannot listen on [api].listen = {addr}: {source}")]
    Api {
        /// The configured address.
        addr: SocketAddr,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A StatsD listener could not be bound.
    #[error("cannot listen on [sources.statsd].{key} = {target:?}: {source}")]
    Listener {
        /// `udp`, `unix` or `unix_stream`.
        key: &'static str,
        /// The address or path.
        target: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A source's listener could not be bound.
    #[error("cannot listen on {key} = {target:?}: {source}")]
    Bind {
        /// The table and key, as in `[sources.otlp].listen`.
        key: &'static str,
        /// The address.
        target: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The API's tokens could not be read.
    #[error(transparent)]
    Auth(#[from] AuthError),
    /// The API's certificate or key could not be used.
    #[error(transparent)]
    Tls(#[from] TlsError),
    /// A sink's backend could not be built.
    #[error("cannot build [sinks.{sink}]: {source}")]
    Backend {
        /// The sink's name.
        sink: String,
        /// Why.
        source: BuildError,
    },
    /// A config value that passed validation could not be used.
    #[error("{0}")]
    Invalid(String),
}

/// Runs the agent described by `config` until `shutdown` resolves, then shuts down in order.
/// Listeners adopt the matching sockets of `activation` instead of binding. Each config
/// received on `reloads` is applied (see the module docs). `on_ready` is called once every
/// listener is bound and every backend built.
pub async fn run(
    config: Config,
    mut activation: Activation,
    mut reloads: mpsc::Receiver<Config>,
    shutdown: impl Future<Output = ()>,
    on_ready: impl FnOnce(&Telemetry),
) -> Result<(), StartError> {
    let api = TcpListener::bind(config.api.listen)
        .await
        .map_err(|source| StartError::Api { addr: config.api.listen, source })?;
    let auth = ApiAuth::new(api_auth(&config)?);
    let tls = config.api.tls.as_ref().map(ApiTls::new).transpose()?;
    let mut bound = Vec::new();
    for key in listeners::keys(&config)? {
        let (listener, adopted) = listeners::bind(&key, &mut activation)?;
        bound.push((key, listener, adopted));
    }
    activation.close_unused();
    let hostname = agent_hostname(&config);
    let handles = build_backends(&config, &hostname)?;
    let alert_plan = alerting::Plan::new(&config).map_err(|e| StartError::Invalid(e.to_string()))?;
    let backend_stats = handles.iter().map(|h| Arc::clone(&h.stats)).collect();
    let telemetry = Arc::new(Telemetry::new(&ParseError::LABELS, &DropReason::LABELS, backend_stats));
    let alerts = alerting::spawn(alert_plan, Arc::clone(&telemetry)).map_err(|e| StartError::Invalid(e.to_string()))?;
    // The fan-out runs on its own: the aggregator only publishes windows to it, and a reload
    // changes its sinks through `sinks`.
    let (windows, sinks, fanout) = Fanout::new(handles).spawn();

    let (tap, taps) = tap::channel();
    let (api_stop, api_stopped) = watch::channel(false);
    let mut api_task =
        tokio::spawn(crate::api::serve(api, Arc::clone(&telemetry), taps, auth.clone(), tls.clone(), async move {
            let mut rx = api_stopped;
            let _ = rx.wait_for(|stop| *stop).await;
        }));

    // Start the listeners. Each holds a sender, and so does `listeners` until shutdown: the
    // aggregator's input stays open across reloads.
    let pool = Arc::new(BatchPool::default());
    let (tx, rx) = mpsc::channel(INPUT_QUEUE);
    let mut listeners = Listeners::new(Arc::clone(&telemetry), Arc::clone(&pool), tx);
    for (key, bound, adopted) in bound {
        listeners.start(key, bound, adopted)?;
    }

    let aggregator = Aggregator {
        state: WindowState::new(window_settings(&config, &hostname)),
        interval: config.agent.flush_interval.0,
        telemetry: Arc::clone(&telemetry),
        pool,
        listeners: Vec::new(),
        tap,
        rules: alerts.windows,
    };
    let (control, control_rx) = mpsc::channel(4);
    let aggregate = tokio::spawn(aggregator.run(rx, control_rx, windows));

    telemetry.ready.store(true, Relaxed);
    tracing::info!(
        listeners = listeners.len(),
        backends = telemetry.backends().len(),
        api = %config.api.listen,
        "Ready."
    );
    on_ready(&telemetry);

    let mut current = config;
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            Some(next) = reloads.recv() => {
                let parts = Running { control: &control, sinks: &sinks, listeners: &mut listeners, telemetry: &telemetry, auth: &auth, tls: tls.as_ref(), rules: &alerts.plans };
                if let Err(e) = reload(&mut current, next, parts).await {
                    tracing::error!(error = %e, "Reload refused; the running configuration stays in effect.");
                }
            }
        }
    }
    let config = current;
    // No reload comes any more: the aggregator and the fan-out end with their inputs.
    drop(control);
    drop(sinks);
    tracing::info!("Shutting down: draining listeners.");
    telemetry.ready.store(false, Relaxed);
    // Each listener drains and drops its sender, then `listeners` drops the last one.
    listeners.shutdown().await;

    // One deadline for every backend from here. The aggregator flushes the last window and
    // drops its sender; the fan-out publishes it, then waits for the sinks a reload is
    // retiring (their deadline began at the reload, so they stop within this one) and lets
    // their successors start; every backend then delivers what it holds in the time left.
    let deadline = tokio::time::Instant::now() + config.agent.shutdown_timeout.0;
    let flushes = aggregate.await.map_err(|e| StartError::Invalid(format!("aggregator failed: {e}")))?;
    let fanout = fanout.await.map_err(|e| StartError::Invalid(format!("fan-out failed: {e}")))?;
    tracing::info!(flushes, "Final window flushed; delivering what the backends hold.");
    // The rules' task ended its evaluation with the aggregator; meanwhile it tells the
    // Alertmanagers what it holds, within the same shutdown_timeout.
    let (undelivered, rules) =
        tokio::join!(fanout.finish(deadline.saturating_duration_since(tokio::time::Instant::now())), alerts.task);
    if rules.is_err() {
        tracing::error!("The alert rules' task failed.");
    }
    // Every tap ended with the aggregator; a watcher that stopped reading can still hold its
    // connection's last write, so the API gets a deadline rather than a wait without end.
    let _ = api_stop.send(true);
    if tokio::time::timeout(API_SHUTDOWN, &mut api_task).await.is_err() {
        tracing::warn!("An API client stopped reading; closing its connection.");
        api_task.abort();
    }
    tracing::info!(undelivered, "Stopped.");
    Ok(())
}

/// Builds every sink's backend and starts its delivery task, in config order. Every network
/// backend shares one HTTP client.
fn build_backends(config: &Config, hostname: &str) -> Result<Vec<DeliveryHandle>, StartError> {
    let context = BuildContext::new(&config.agent.data_dir, hostname).with_mappings(mappings(config)?);
    config.sinks.iter().map(|(name, sink)| build_backend(&context, name, sink, None)).collect()
}

/// `[[mappings]]` compiled for the Prometheus outputs (validation already compiled them once).
fn mappings(config: &Config) -> Result<Arc<Mappings>, StartError> {
    config.compile_mappings().map(Arc::new).map_err(|v| StartError::Invalid(v.message))
}

/// Builds the sink `name` and starts its delivery task; with `after`, the backend starts once
/// the sink it replaces has stopped.
fn build_backend(
    context: &BuildContext,
    name: &str,
    sink: &SinkConfig,
    after: Option<Handover>,
) -> Result<DeliveryHandle, StartError> {
    sink.spawn(name, context, after).map_err(|source| StartError::Backend { sink: name.to_owned(), source })
}

/// What a reload changes in the running agent.
struct Running<'a> {
    /// The aggregator's window settings.
    control: &'a mpsc::Sender<Control>,
    /// The fan-out's sinks.
    sinks: &'a FanoutControl,
    listeners: &'a mut Listeners,
    /// Where the new set of backends is shown.
    telemetry: &'a Telemetry,
    /// The API's tokens.
    auth: &'a ApiAuth,
    /// The API's certificate, when it serves HTTPS.
    tls: Option<&'a ApiTls>,
    /// The alert rules' task.
    rules: &'a mpsc::Sender<alerting::Plan>,
}

/// The tokens `[api.auth]` configures, its `tokens_file` read now; `None` without the table.
fn api_auth(config: &Config) -> Result<Option<Auth>, AuthError> {
    config.api.auth.as_ref().map(Auth::new).transpose()
}

/// Applies `next` to the running agent and makes it `current`: the changed listeners first,
/// then window settings, then the changed sinks. A listener that cannot be bound or a sink
/// that cannot be built refuses the whole reload with the running listeners and sinks as they
/// were. The API's tokens are replaced; `[api] listen` and `[log]` are bound once: a change
/// to them is reported as waiting for a restart.
async fn reload(current: &mut Config, next: Config, running: Running<'_>) -> Result<(), StartError> {
    let Running { control, sinks, listeners, telemetry, auth, tls, rules } = running;
    // Read first, so that an unreadable tokens_file or certificate refuses the reload with
    // nothing changed.
    let next_auth = api_auth(&next)?;
    let next_rules = alerting::Plan::new(&next).map_err(|e| StartError::Invalid(e.to_string()))?;
    let next_certificate = match (tls, &next.api.tls) {
        (Some(_), Some(config)) => Some(Certificate::read(config)?),
        _ => None,
    };
    let hostname = agent_hostname(&next);
    let next_listeners = listeners::keys(&next)?;
    let changed: Vec<&String> = current
        .sinks
        .keys()
        .chain(next.sinks.keys())
        .filter(|name| current.sinks.get(*name) != next.sinks.get(*name))
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    // Backends that read the agent's identity or data_dir are rebuilt when those change.
    let identity_changed = hostname != agent_hostname(current) || current.agent.data_dir != next.agent.data_dir;
    // Backends that apply the mapping rules are rebuilt when the rules change (each keeps its
    // cache of what the rules made of every name, and its state keeps per-rule buckets).
    let mappings_changed = current.mappings != next.mappings;
    let context = BuildContext::new(&next.agent.data_dir, &hostname).with_mappings(mappings(&next)?);
    let mut add = Vec::new();
    // A rebuilt sink starts once the one it replaces has stopped: the two share a spool and
    // a state file. Its side of each hand-over goes to the fan-out with the retiring sink.
    let mut predecessors = BTreeMap::new();
    for (name, sink) in &next.sinks {
        let rebuild = changed.contains(&name)
            || (identity_changed && sink.reads_identity())
            || (mappings_changed && sink.reads_mappings());
        if !rebuild {
            continue;
        }
        let after = current.sinks.contains_key(name).then(|| {
            let (predecessor, handover) = Handover::new();
            predecessors.insert(name.clone(), predecessor);
            handover
        });
        match build_backend(&context, name, sink, after) {
            Ok(handle) => add.push((name.clone(), handle)),
            Err(e) => {
                discard(add, predecessors).await;
                return Err(e);
            }
        }
    }
    // Sinks are built, listeners not yet changed: a listener that cannot be bound refuses the
    // reload here, and the sinks just built are retired unused.
    if next_listeners != listeners::keys(current)? {
        match listeners.reload(next_listeners).await {
            Ok((stopped, started)) => tracing::info!(stopped, started, "Listeners changed by the reload."),
            Err(e) => {
                discard(add, predecessors).await;
                return Err(e);
            }
        }
    }
    // Removals (a sink gone or rebuilt) first, then additions in config order; a rebuilt sink
    // is one replacement, its hand-over inside.
    let mut changes = Vec::new();
    for name in current.sinks.keys() {
        if changed.contains(&name) && !next.sinks.contains_key(name) {
            changes.push(Change::Remove(name.clone()));
        }
    }
    let (mut removed, added) = (changes.len(), add.len());
    for (name, handle) in add {
        changes.push(match predecessors.remove(&name) {
            Some(predecessor) => {
                removed += 1;
                Change::Replace { name, successor: handle, predecessor }
            }
            None => Change::Add(handle),
        });
    }
    let settings = window_settings(&next, &hostname);
    let interval = next.agent.flush_interval.0;
    let closed = || StartError::Invalid("the aggregator has stopped".to_owned());
    control.send(Control::Settings(settings, interval)).await.map_err(|_| closed())?;
    if !changes.is_empty() {
        let deadline = next.agent.shutdown_timeout.0;
        let stats = sinks.apply(changes, deadline).await.map_err(|_| closed())?;
        telemetry.set_backends(stats);
        tracing::info!(removed, added, "Sinks changed by the reload.");
    }
    auth.set(next_auth);
    rules.send(next_rules).await.map_err(|_| StartError::Invalid("the alert rules' task has stopped".to_owned()))?;
    if let (Some(tls), Some(certificate)) = (tls, next_certificate) {
        tls.set(certificate);
    }
    let listen = ("[api] listen", current.api.listen == next.api.listen);
    let https = ("[api.tls] (on or off)", current.api.tls.is_some() == next.api.tls.is_some());
    for (part, same) in [listen, https, ("[log]", current.log == next.log)] {
        if !same {
            tracing::warn!(table = part, "Changed in the new configuration; takes effect at the next restart.");
        }
    }
    // What is bound once keeps its running values, so the next reload compares against them.
    let mut next = next;
    next.api.listen = current.api.listen;
    if next.api.tls.is_some() != current.api.tls.is_some() {
        next.api.tls.clone_from(&current.api.tls);
    }
    next.log = current.log.clone();
    *current = next;
    tracing::info!("Configuration reloaded.");
    Ok(())
}

/// Retires the sinks a refused reload built, unused. Their hand-overs are cancelled first, so
/// none of them opens a spool or reads a state file the running sinks still hold.
async fn discard(built: Vec<(String, DeliveryHandle)>, predecessors: BTreeMap<String, Predecessor>) {
    drop(predecessors);
    for (_, handle) in built {
        handle.finish(std::time::Duration::ZERO).await;
    }
}

/// `[agent] hostname`, else the machine's.
fn agent_hostname(config: &Config) -> String {
    config.agent.hostname.clone().unwrap_or_else(hostname)
}

/// The one HTTP client, built on first use.
fn window_settings(config: &Config, hostname: &str) -> WindowSettings {
    let (percentiles, buckets) =
        config.sources.statsd.as_ref().map(|s| (s.percentiles.clone(), s.buckets.clone())).unwrap_or_default();
    let mut tags: Vec<Box<str>> = config.agent.tags.iter().map(|(k, v)| format!("{k}:{v}").into()).collect();
    tags.sort();
    WindowSettings {
        percentiles,
        buckets,
        max_series: config.agent.max_series,
        expire_after_windows: config.agent.expire_after_windows,
        hostname: Arc::from(hostname),
        tags: tags.into(),
    }
}

/// The machine's hostname, or `localhost` if the kernel will not say.
fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: `buf` is valid for `buf.len()` bytes; gethostname writes at most that many.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    let len = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    match std::str::from_utf8(&buf[..len]) {
        Ok(name) if rc == 0 && !name.is_empty() => name.to_owned(),
        _ => "localhost".to_owned(),
    }
}
