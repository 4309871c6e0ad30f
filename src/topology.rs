//! Wires sources → aggregator → backends, and owns the start and shutdown order.
//!
//! Start: bind the API, build every backend, bind every listener — any failure stops here,
//! before anything runs. Then run them and report ready.
//!
//! Shutdown: raise the stop flag; each listener drains what the kernel already holds and
//! drops its sender. When the last sender is gone the aggregator sees the end of its input,
//! flushes the open window and returns; the backends then deliver what they hold within
//! `[agent].shutdown_timeout`; a disk buffer keeps what is left in its spool (every window
//! was spooled before it was sent) and syncs it. The API goes last so `/metrics` can be read until the end.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};

use backends::console::Console;
use backends::delivery::http;
use backends::delivery::{self, DeliveryHandle, Fanout};
use backends::file::File;
use backends::{cloudwatch, datadog, influxdb, pushgateway, statsd};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};

use crate::aggregator::Aggregator;
use crate::aggregator::window::{DropReason, WindowSettings, WindowState};
use crate::config::{Config, SinkConfig};
use crate::sources::statsd::batch::BatchPool;
use crate::sources::statsd::parser::ParseError;
use crate::sources::statsd::{stream, udp, unix};
use crate::telemetry::{CounterFamily, ListenerStats, Telemetry};

/// Batches in flight between the listeners and the aggregator. When the aggregator falls
/// behind, listeners wait and the kernel's socket buffers absorb the burst.
const INPUT_QUEUE: usize = 64;

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
    /// A sink's backend could not be built.
    #[error("cannot build [sinks.{sink}]: {message}")]
    Backend {
        /// The sink's name.
        sink: String,
        /// Why.
        message: String,
    },
    /// A config value that passed validation could not be used.
    #[error("{0}")]
    Invalid(String),
}

/// A listener bound and waiting to run.
enum Bound {
    Udp(udp::UdpListener),
    Unix(unix::UnixListener),
    Stream(stream::StreamListener),
}

/// Runs the agent described by `config` until `shutdown` resolves, then shuts down in order.
/// `on_ready` is called once every listener is bound and every backend built.
pub async fn run(
    config: Config,
    shutdown: impl Future<Output = ()>,
    on_ready: impl FnOnce(&Telemetry),
) -> Result<(), StartError> {
    let api = TcpListener::bind(config.api.listen)
        .await
        .map_err(|source| StartError::Api { addr: config.api.listen, source })?;
    let (bound, listener_stats) = bind_listeners(&config)?;
    let hostname = config.agent.hostname.clone().unwrap_or_else(hostname);
    let handles = build_backends(&config, &hostname)?;
    let telemetry = Arc::new(Telemetry {
        listeners: listener_stats,
        parse_errors: CounterFamily::new(&ParseError::LABELS),
        dropped_samples: CounterFamily::new(&DropReason::LABELS),
        events: AtomicU64::new(0),
        service_checks: AtomicU64::new(0),
        series: AtomicU64::new(0),
        flushes: AtomicU64::new(0),
        backends: handles.iter().map(|h| Arc::clone(&h.stats)).collect(),
        ready: AtomicBool::new(false),
    });
    let fanout = Fanout::new(handles);

    let (api_stop, api_stopped) = watch::channel(false);
    let api_task = tokio::spawn(crate::api::serve(api, Arc::clone(&telemetry), async move {
        let mut rx = api_stopped;
        let _ = rx.wait_for(|stop| *stop).await;
    }));

    // Start the listeners. Each holds a sender; the aggregator's input ends when all are gone.
    let pool = Arc::new(BatchPool::default());
    let (tx, rx) = mpsc::channel(INPUT_QUEUE);
    let stop_threads = Arc::new(AtomicBool::new(false));
    let (stop_tasks, stop_tasks_rx) = watch::channel(false);
    let mut threads = Vec::new();
    let mut tasks = Vec::new();
    for (index, bound) in bound.into_iter().enumerate() {
        let stats = Arc::clone(&telemetry.listeners[index]);
        let (pool, tx) = (Arc::clone(&pool), tx.clone());
        let thread = match bound {
            Bound::Udp(l) => l.run(index, stats, pool, tx, Arc::clone(&stop_threads)),
            Bound::Unix(l) => l.run(index, stats, pool, tx, Arc::clone(&stop_threads)),
            Bound::Stream(l) => {
                tasks.push(tokio::spawn(l.run(index, stats, pool, tx, stop_tasks_rx.clone())));
                continue;
            }
        };
        threads.push(thread.map_err(|e| StartError::Invalid(format!("cannot start a listener thread: {e}")))?);
    }
    // Dropped so that only the listeners keep the aggregator's input open.
    drop(tx);

    let aggregator = Aggregator {
        state: WindowState::new(window_settings(&config, &hostname)),
        interval: config.agent.flush_interval.0,
        telemetry: Arc::clone(&telemetry),
        pool,
    };
    let aggregate = tokio::spawn(async move {
        let flushes = aggregator.run(rx, &fanout).await;
        (fanout, flushes)
    });

    telemetry.ready.store(true, Relaxed);
    tracing::info!(
        listeners = telemetry.listeners.len(),
        backends = telemetry.backends.len(),
        api = %config.api.listen,
        "Ready."
    );
    on_ready(&telemetry);

    shutdown.await;
    tracing::info!("Shutting down: draining listeners.");
    telemetry.ready.store(false, Relaxed);
    stop_threads.store(true, Relaxed);
    let _ = stop_tasks.send(true);
    for task in tasks {
        let _ = task.await;
    }
    let _ = tokio::task::spawn_blocking(move || {
        for thread in threads {
            let _ = thread.join();
        }
    })
    .await;

    let (fanout, flushes) = aggregate.await.map_err(|e| StartError::Invalid(format!("aggregator failed: {e}")))?;
    tracing::info!(flushes, "Final window flushed; delivering what the backends hold.");
    let undelivered = fanout.finish(config.agent.shutdown_timeout.0).await;
    let _ = api_stop.send(true);
    let _ = api_task.await;
    tracing::info!(undelivered, "Stopped.");
    Ok(())
}

fn bind_listeners(config: &Config) -> Result<(Vec<Bound>, Vec<Arc<ListenerStats>>), StartError> {
    let mut bound = Vec::new();
    let mut stats = Vec::new();
    let Some(statsd) = &config.sources.statsd else { return Ok((bound, stats)) };
    let rcvbuf = usize::try_from(statsd.receive_buffer.0).unwrap_or(usize::MAX);
    let mode = statsd
        .socket_mode_bits()
        .ok_or_else(|| StartError::Invalid(format!("invalid socket_mode {:?}", statsd.socket_mode)))?;
    for addr in &statsd.udp {
        let l = udp::bind(*addr, rcvbuf).map_err(|source| StartError::Listener {
            key: "udp",
            target: addr.to_string(),
            source,
        })?;
        stats.push(Arc::new(ListenerStats::new(l.label())));
        bound.push(Bound::Udp(l));
    }
    for path in &statsd.unix {
        let l = unix::bind(path, mode, rcvbuf).map_err(|source| listener_error("unix", path, source))?;
        stats.push(Arc::new(ListenerStats::new(l.label())));
        bound.push(Bound::Unix(l));
    }
    for path in &statsd.unix_stream {
        let l = stream::bind(path, mode).map_err(|source| listener_error("unix_stream", path, source))?;
        stats.push(Arc::new(ListenerStats::new(l.label())));
        bound.push(Bound::Stream(l));
    }
    Ok((bound, stats))
}

fn listener_error(key: &'static str, path: &Path, source: std::io::Error) -> StartError {
    StartError::Listener { key, target: path.display().to_string(), source }
}

/// Builds every sink's backend and starts its delivery task, in config order. Every network
/// backend shares one HTTP client.
fn build_backends(config: &Config, hostname: &str) -> Result<Vec<DeliveryHandle>, StartError> {
    let mut client = None;
    let mut handles = Vec::with_capacity(config.sinks.len());
    let data_dir = &config.agent.data_dir;
    for (name, sink) in &config.sinks {
        let (buffer, retry) = (sink.buffer(), sink.retry());
        let failed = |e: &dyn std::fmt::Display| StartError::Backend { sink: name.clone(), message: e.to_string() };
        let handle = match sink {
            SinkConfig::Console(_) => delivery::spawn_at(data_dir, name, Console::new(), buffer, retry),
            SinkConfig::File(c) => delivery::spawn_at(data_dir, name, File::new(c), buffer, retry),
            SinkConfig::Pushgateway(c) => {
                let context = pushgateway::Context {
                    client: shared_client(&mut client)?,
                    data_dir: config.agent.data_dir.clone(),
                    hostname: hostname.to_owned(),
                };
                let backend = pushgateway::Pushgateway::new(name, c, context).map_err(|e| failed(&e))?;
                delivery::spawn_at(data_dir, name, backend, buffer, retry)
            }
            SinkConfig::Statsd(c) => {
                let backend = statsd::Statsd::new(c).map_err(|e| failed(&e))?;
                delivery::spawn_at(data_dir, name, backend, buffer, retry)
            }
            SinkConfig::Datadog(c) => {
                let backend = datadog::Datadog::new(c, shared_client(&mut client)?).map_err(|e| failed(&e))?;
                delivery::spawn_at(data_dir, name, backend, buffer, retry)
            }
            SinkConfig::Influxdb(c) => {
                let backend = influxdb::InfluxDb::new(c, shared_client(&mut client)?).map_err(|e| failed(&e))?;
                delivery::spawn_at(data_dir, name, backend, buffer, retry)
            }
            SinkConfig::Cloudwatch(c) => {
                let env = cloudwatch::Env::process();
                let backend =
                    cloudwatch::CloudWatch::new(c, shared_client(&mut client)?, &env).map_err(|e| failed(&e))?;
                // Say where the keys come from, never the keys.
                tracing::info!(sink = %name, credentials = %backend.credentials_source(), "CloudWatch credentials found.");
                delivery::spawn_at(data_dir, name, backend, buffer, retry)
            }
        };
        handles.push(handle);
    }
    Ok(handles)
}

/// The one HTTP client, built on first use.
fn shared_client(slot: &mut Option<http::Client>) -> Result<http::Client, StartError> {
    if let Some(client) = slot {
        return Ok(client.clone());
    }
    let client = http::client().map_err(|e| StartError::Invalid(format!("cannot build the HTTP client: {e}")))?;
    Ok(slot.insert(client).clone())
}

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
