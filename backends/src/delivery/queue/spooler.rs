//! The spool's thread: the only one that writes a disk buffer's spool. It recovers what the
//! spool held, then appends, records progress and releases in the order the queue asks.

use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use super::state::{DECODED_AHEAD, OnDisk, Shared};
use crate::delivery::spool::{self, Meta, Pending, Progress, Spool};
use crate::delivery::stats::BufferMode;
use crate::model::Window;

/// What the queue asks of its spool thread, in order.
pub enum Cmd {
    /// Spool this window and queue it.
    Append(Arc<Window>),
    /// Every window up to this seq is done.
    Release(u64),
    /// How far the delivery of window seq got.
    Progress(u64, Progress),
    /// No more windows: close the queue once those before are queued.
    Close,
    /// Sync and stop the thread.
    Stop,
}

/// The spool's thread: recovers what the spool held, then appends and releases in the order
/// the queue asks, syncing as the fsync policy says.
pub fn run_spooler(spool: Spool, recovered: spool::Recovered, shared: &Shared, rx: &mpsc::Receiver<Cmd>) {
    shared.lock().spool_id = Some(spool.id());
    shared.stats.spool_corrupt_records.fetch_add(recovered.corrupt, Relaxed);
    if !recovered.pending.is_empty() {
        tracing::info!(
            backend = %shared.stats.name,
            windows = recovered.pending.len(),
            bytes = recovered.pending.iter().map(|p| p.bytes).sum::<u64>(),
            "Replaying windows the spool held at start."
        );
    }
    shared.stats.replay_pending.store(recovered.pending.len() as u64, Relaxed);
    let mut release = None;
    for Pending { location, meta, bytes, progress } in recovered.pending {
        let disk = OnDisk { location, replayed: true, progress };
        release = shared.admit(None, meta, bytes, Some(disk)).max(release);
    }
    let tick = spool.fsync_interval().unwrap_or(Duration::from_hours(1));
    let mut disk = Disk { spool, shared, failing: false, buf: Vec::new() };
    if let Some(seq) = release {
        disk.release(seq);
    }
    loop {
        match rx.recv_timeout(tick) {
            Ok(Cmd::Append(window)) => disk.append(window),
            Ok(Cmd::Release(seq)) => disk.release(seq),
            Ok(Cmd::Progress(seq, progress)) => {
                if let Err(e) = disk.spool.progress(seq, progress) {
                    disk.failed(&e, "write");
                }
            }
            Ok(Cmd::Close) => shared.close(),
            Ok(Cmd::Stop) | Err(mpsc::RecvTimeoutError::Disconnected) => break,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                if let Err(e) = disk.spool.tick() {
                    disk.failed(&e, "sync");
                }
            }
        }
    }
    if let Err(e) = disk.spool.sync() {
        tracing::error!(backend = %shared.stats.name, error = %e, "Cannot sync the spool at shutdown.");
    }
}

/// The spool as its thread drives it. A write or sync that fails (a full disk) switches new
/// windows to memory and says so; every new window tries the disk again, and the first that
/// is written switches back.
struct Disk<'a> {
    spool: Spool,
    shared: &'a Shared,
    failing: bool,
    buf: Vec<u8>,
}

impl Disk<'_> {
    fn append(&mut self, window: Arc<Window>) {
        let shared = self.shared;
        self.buf.clear();
        spool::encode(&window, &mut self.buf);
        let meta = Meta { end_ms: window.end_ms, series: window.series.len() as u64 };
        if shared.refuses((self.buf.len() + spool::RECORD_HEADER_LEN) as u64) {
            shared.refuse(meta.series);
            return;
        }
        let started = Instant::now();
        let appended = match self.spool.append(&self.buf) {
            Ok(appended) => appended,
            Err(e) => {
                self.failed(&e, "append to");
                shared.admit_memory(window);
                return;
            }
        };
        match &appended.sync_error {
            Some(e) => self.failed(e, "sync"),
            None => self.worked(),
        }
        tracing::debug!(
            backend = %shared.stats.name,
            seq = appended.location.seq,
            bytes = appended.bytes,
            micros = started.elapsed().as_micros() as u64,
            "Spooled a window."
        );
        let keep = (shared.lock().entries.len() < DECODED_AHEAD).then_some(window);
        let disk = OnDisk { location: appended.location, replayed: false, progress: Progress::default() };
        if let Some(seq) = shared.admit(keep, meta, appended.bytes, Some(disk)) {
            self.release(seq);
        }
    }

    fn release(&mut self, seq: u64) {
        // A release that fails is written with the next one that works.
        if let Err(e) = self.spool.release_through(seq) {
            self.failed(&e, "write");
        }
    }

    /// Counts a failed disk operation; the first switches new windows to memory.
    fn failed(&mut self, e: &std::io::Error, what: &str) {
        self.shared.stats.spool_errors.fetch_add(1, Relaxed);
        if !self.failing {
            self.failing = true;
            self.shared.fall_back(format!("cannot {what} the spool: {e}"));
        }
    }

    /// A window was spooled: after failures, new windows go to the disk again.
    fn worked(&mut self) {
        if self.failing {
            self.failing = false;
            tracing::info!(backend = %self.shared.stats.name, "The spool is writable again: new windows go to the disk.");
            self.shared.stats.set_buffer(BufferMode::Disk, None);
        }
    }
}

/// The spool's thread when the spool could not be opened: every window waits in memory.
pub fn run_without_spool(shared: &Shared, rx: &mpsc::Receiver<Cmd>) {
    while let Ok(cmd) = rx.recv() {
        match cmd {
            Cmd::Append(window) => shared.admit_memory(window),
            Cmd::Release(_) | Cmd::Progress(..) => {}
            Cmd::Close => shared.close(),
            Cmd::Stop => break,
        }
    }
}

/// The spool's thread when the spool was never to be opened: a reload built this sink, then
/// was refused (or the sink it replaces could not be retired), so that one keeps the spool.
/// Windows pushed anyway are counted as dropped and logged, never spooled.
pub fn run_never_started(shared: &Shared, rx: &mpsc::Receiver<Cmd>) {
    let (mut windows, mut series) = (0_u64, 0_u64);
    while let Ok(cmd) = rx.recv() {
        match cmd {
            Cmd::Append(window) => {
                windows += 1;
                series += window.series.len() as u64;
                shared.stats.dropped_buffer_full.fetch_add(window.series.len() as u64, Relaxed);
            }
            Cmd::Release(_) | Cmd::Progress(..) => {}
            Cmd::Close => shared.close(),
            Cmd::Stop => break,
        }
    }
    if windows > 0 {
        tracing::error!(
            backend = %shared.stats.name,
            windows,
            series,
            "Sink never started (the sink it was to replace was not retired): windows dropped."
        );
    }
}
