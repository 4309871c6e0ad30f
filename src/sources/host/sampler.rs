//! The sampler (every collector once, counters kept between samples) and the thread that runs
//! it every `interval` and hands each sample's typed values to the aggregator.

use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tokio::sync::mpsc::Sender;

use super::emit::{Collect, Context, Deltas, Emitter};
use super::{agent, cpu, disk, diskio, load, memory, net, processes, uptime};
use crate::aggregator::input::{Input, Sample, Samples};

/// The `listener` label of the host source in sluice's own telemetry.
pub const LABEL: &str = "host";

/// Every collector, by name, in the order they run.
const COLLECTORS: [(&str, Collect); 9] = [
    ("cpu", cpu::collect),
    ("memory", memory::collect),
    ("disk", disk::collect),
    ("diskio", diskio::collect),
    ("net", net::collect),
    ("load", load::collect),
    ("uptime", uptime::collect),
    ("processes", processes::collect),
    ("agent", agent::collect),
];

/// Runs every collector and keeps the previous value of every counter.
#[derive(Debug)]
pub struct Sampler {
    context: Context,
    deltas: Deltas,
    failing: [bool; COLLECTORS.len()],
}

impl Sampler {
    /// A sampler with no counter history: the first sample emits gauges only.
    pub fn new(context: Context) -> Self {
        Self { context, deltas: Deltas::default(), failing: [false; COLLECTORS.len()] }
    }

    /// Appends one sample of every collector to `samples`. A collector that fails is logged
    /// once (until it works again) and the others still run.
    pub fn sample(&mut self, samples: &mut Vec<Sample>) {
        self.deltas.begin();
        let mut out = Emitter::new(samples, &mut self.deltas);
        for (i, (name, collect)) in COLLECTORS.iter().enumerate() {
            match collect(&self.context, &mut out) {
                Ok(()) => self.failing[i] = false,
                Err(e) if !self.failing[i] => {
                    self.failing[i] = true;
                    tracing::warn!(collector = name, error = %e, "Host collector failed; retrying every interval.");
                }
                Err(_) => {}
            }
        }
        self.deltas.sweep();
    }
}

/// The host source, configured and waiting to run.
#[derive(Debug)]
pub struct HostSource {
    /// Time between samples.
    pub interval: Duration,
    /// The sampler.
    pub sampler: Sampler,
}

impl HostSource {
    /// Samples on a dedicated thread (a `statvfs` on a hung network mount must not stall the
    /// runtime): once at start, then every `interval`. Each sample goes to `tx` as one
    /// [`Samples`] stamped with `listener`. Returns when `stop` is set (checked every 100 ms)
    /// or the aggregator is gone, dropping its sender.
    pub fn run(
        mut self,
        listener: usize,
        tx: Sender<Input>,
        stop: Arc<AtomicBool>,
    ) -> io::Result<JoinHandle<io::Result<()>>> {
        std::thread::Builder::new().name("sluice-host".to_owned()).spawn(move || {
            let mut next = Instant::now();
            let mut capacity = 0;
            while !stop.load(Relaxed) {
                let now = Instant::now();
                if now >= next {
                    // A sample that overran its slot is not caught up with a burst.
                    next = (next + self.interval).max(now);
                    let mut samples = Samples { listener, samples: Vec::with_capacity(capacity) };
                    self.sampler.sample(&mut samples.samples);
                    capacity = samples.samples.len();
                    if tx.blocking_send(samples.into()).is_err() {
                        break;
                    }
                }
                std::thread::sleep(next.saturating_duration_since(Instant::now()).min(Duration::from_millis(100)));
            }
            Ok(())
        })
    }
}
