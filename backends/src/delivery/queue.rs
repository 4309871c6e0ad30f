//! The buffer of one backend: a bounded queue of windows that never blocks the producer, in
//! memory or backed by a disk spool. The delivery task sees the same queue either way.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::mpsc;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

use super::config::{BufferConfig, BufferType, WhenFull};
use super::spool::{self, Location, Meta, Pending, Position, Spool};
use super::stats::{BackendStats, BufferMode};
use crate::model::Window;

/// A full buffer logs what it dropped at most once per this interval (each drop is counted).
pub const DROP_LOG_INTERVAL: Duration = Duration::from_secs(10);

/// Spooled windows kept decoded in memory as well: the front one the delivery task works on
/// and the next. The others are read back from the disk when their turn comes, so a long
/// outage costs disk, not memory.
const DECODED_AHEAD: usize = 2;

/// Holds windows for one backend within its bounds. When a push exceeds them the oldest
/// windows are dropped and their series counted (`reason="buffer_full"`), or the new one with
/// `when_full = "drop_newest"`: the producer, the aggregator, never waits for a backend.
///
/// With `type = "disk"` every window is appended to the spool by a thread of the queue's own
/// before the delivery task sees it, and released once it was delivered or given up; the
/// aggregator only hands the window over. The thread opens the spool only once
/// [`WindowQueue::start_spool`] lets it (a reload's new sink waits for the one it replaces
/// to let go of the spool); windows pushed before wait for it in order, in its channel.
#[derive(Debug)]
pub struct WindowQueue {
    shared: Arc<Shared>,
    spooler: Option<Spooler>,
}

/// The oldest waiting window, as the delivery task gets it.
#[derive(Debug, Clone)]
pub struct Front {
    /// Identifies the entry for [`WindowQueue::is_front`] and [`WindowQueue::pop_if`].
    pub ticket: u64,
    /// The window.
    pub window: Arc<Window>,
    /// Its durable position when it is spooled.
    pub position: Option<Position>,
    /// Its first batches the backend acknowledged before a restart: not to send again.
    pub batches_done: u32,
}

#[derive(Debug)]
struct Spooler {
    tx: Mutex<mpsc::Sender<Cmd>>,
    thread: Mutex<Option<std::thread::JoinHandle<()>>>,
    /// Until the spool may be opened: sending on it opens the spool, dropping it means never.
    go: Mutex<Option<mpsc::Sender<()>>>,
}

enum Cmd {
    Append(Arc<Window>),
    Release(u64),
    Progress(u64, u32),
    Close,
    Stop,
}

#[derive(Debug)]
struct Shared {
    inner: Mutex<Inner>,
    notify: Notify,
    max_windows: usize,
    max_bytes: u64,
    when_full: WhenFull,
    stats: Arc<BackendStats>,
}

#[derive(Debug)]
struct Entry {
    ticket: u64,
    window: Option<Arc<Window>>,
    meta: Meta,
    bytes: u64,
    /// Where the spool holds it, for a disk entry.
    disk: Option<OnDisk>,
}

/// A queued window's place in the spool.
#[derive(Debug)]
struct OnDisk {
    location: Location,
    /// Found in the spool at start (counted as replay).
    replayed: bool,
    /// Its first batches acknowledged before a restart, not to send again.
    batches_done: u32,
}

#[derive(Debug, Default)]
struct Inner {
    entries: VecDeque<Entry>,
    bytes: u64,
    in_memory: usize,
    spooled: u64,
    spooled_bytes: u64,
    closed: bool,
    next_ticket: u64,
    spool_id: Option<u64>,
    drop_log: DropLog,
}

#[derive(Debug, Default)]
struct DropLog {
    last: Option<Instant>,
    windows: u64,
    series: u64,
}

impl WindowQueue {
    /// A memory queue bounded as `config` says. A disk `config` falls back to memory and says
    /// so: without a data directory there is nowhere to spool.
    pub fn new(config: &BufferConfig, stats: Arc<BackendStats>) -> Self {
        let queue = Self { shared: Arc::new(Shared::new(config, stats)), spooler: None };
        if config.kind == BufferType::Disk {
            queue.shared.fall_back("no data directory was given".into());
        }
        queue
    }

    /// A queue as `config` says; a disk buffer spools in `dir`. The spool is opened (and what
    /// it holds queued for replay) on the spool's thread, so a large spool never delays start.
    pub fn open(config: &BufferConfig, dir: PathBuf, stats: Arc<BackendStats>) -> Self {
        let queue = Self::create(config, dir, stats);
        queue.start_spool();
        queue
    }

    /// Like [`WindowQueue::open`], but a disk buffer's spool stays closed until
    /// [`WindowQueue::start_spool`]: windows pushed meanwhile wait in order, and nothing in
    /// `dir` is touched if the queue is never started.
    pub fn create(config: &BufferConfig, dir: PathBuf, stats: Arc<BackendStats>) -> Self {
        if config.kind == BufferType::Memory {
            return Self::new(config, stats);
        }
        let shared = Arc::new(Shared::new(config, stats));
        shared.stats.set_buffer(BufferMode::Disk, None);
        let segment_bytes = (config.max_bytes.0 / 8).clamp(4 << 10, 16 << 20);
        let (tx, rx) = mpsc::channel();
        let (go, may_open) = mpsc::channel();
        let fsync = config.fsync;
        let for_thread = Arc::clone(&shared);
        let thread = std::thread::Builder::new().name(format!("spool-{}", shared.stats.name)).spawn(move || {
            if may_open.recv().is_err() {
                run_never_started(&for_thread, &rx);
                return;
            }
            match Spool::open(&dir, segment_bytes, fsync) {
                Ok((spool, recovered)) => run_spooler(spool, recovered, &for_thread, &rx),
                Err(e) => {
                    for_thread.fall_back(format!("cannot open the spool in {}: {e}", dir.display()));
                    run_without_spool(&for_thread, &rx);
                }
            }
        });
        match thread {
            Ok(thread) => {
                let spooler =
                    Spooler { tx: Mutex::new(tx), thread: Mutex::new(Some(thread)), go: Mutex::new(Some(go)) };
                Self { shared, spooler: Some(spooler) }
            }
            Err(e) => {
                shared.fall_back(format!("cannot start the spool thread: {e}"));
                Self { shared, spooler: None }
            }
        }
    }

    /// Lets a disk buffer's thread open the spool: it queues what the spool holds for replay,
    /// then spools the windows pushed since [`WindowQueue::create`], in order. Does nothing
    /// for a memory buffer, or when the spool was already started or cancelled.
    pub fn start_spool(&self) {
        if let Some(go) = self.spooler.as_ref().and_then(Spooler::take_go) {
            let _ = go.send(());
        }
    }

    /// Tells a disk buffer's thread the spool will never be opened (the sink a reload meant
    /// to replace keeps it): windows pushed to the queue are counted as dropped and logged.
    /// Does nothing when the spool was already started.
    pub fn cancel_spool(&self) {
        drop(self.spooler.as_ref().and_then(Spooler::take_go));
    }

    /// Appends a window, dropping windows while a bound is exceeded. Never blocks: a disk
    /// queue hands the window to its spool thread.
    pub fn push(&self, window: Arc<Window>) {
        if let Some(spooler) = &self.spooler
            && spooler.send(Cmd::Append(window.clone()))
        {
            return;
        }
        self.shared.admit_memory(window);
    }

    /// The oldest window without removing it; waits while the queue is empty and open, and
    /// reads a spooled window back from the disk when needed. Returns `None` once the queue is
    /// closed and empty.
    pub async fn front(&self) -> Option<Front> {
        loop {
            let notified = self.shared.notify.notified();
            let location = {
                let inner = self.shared.lock();
                match inner.entries.front() {
                    Some(e) => match (&e.window, &e.disk) {
                        (Some(window), disk) => {
                            let position = disk
                                .as_ref()
                                .zip(inner.spool_id)
                                .map(|(d, spool)| Position { spool, seq: d.location.seq });
                            let batches_done = disk.as_ref().map_or(0, |d| d.batches_done);
                            return Some(Front {
                                ticket: e.ticket,
                                window: Arc::clone(window),
                                position,
                                batches_done,
                            });
                        }
                        (None, Some(disk)) => Some((e.ticket, disk.location.clone())),
                        (None, None) => unreachable!("a memory entry always holds its window"),
                    },
                    None if inner.closed => return None,
                    None => None,
                }
            };
            let Some((ticket, location)) = location else {
                notified.await;
                continue;
            };
            let read = tokio::task::spawn_blocking(move || {
                let bytes = spool::read_payload(&location)?;
                spool::decode(&bytes).map_err(std::io::Error::other)
            })
            .await
            .unwrap_or_else(|e| Err(std::io::Error::other(e)));
            match read {
                Ok(window) => self.shared.set_window(ticket, Arc::new(window)),
                // Dropped from a full spool (and its segment deleted) while it was read.
                Err(_) if !self.is_front(ticket) => {}
                Err(e) => {
                    self.shared.stats.spool_corrupt_records.fetch_add(1, Relaxed);
                    tracing::error!(backend = %self.shared.stats.name, error = %e, "Cannot read a spooled window back; dropped it.");
                    self.pop_if(ticket);
                }
            }
        }
    }

    /// True while the entry `ticket` is still the oldest queued: a full queue may have dropped
    /// it while its delivery was failing.
    pub fn is_front(&self, ticket: u64) -> bool {
        self.shared.lock().entries.front().is_some_and(|e| e.ticket == ticket)
    }

    /// Removes the front entry once it was delivered (or given up), if it is still `ticket`,
    /// and releases it from the spool.
    pub fn pop_if(&self, ticket: u64) {
        let released = {
            let mut inner = self.shared.lock();
            if inner.entries.front().is_none_or(|e| e.ticket != ticket) {
                return;
            }
            let entry = inner.pop_front();
            if entry.disk.as_ref().is_some_and(|d| d.replayed) {
                self.shared.stats.replay_pending.fetch_sub(1, Relaxed);
                self.shared.stats.replayed_windows.fetch_add(1, Relaxed);
            }
            self.shared.publish_depth(&inner);
            entry.disk.map(|d| d.location.seq)
        };
        if let (Some(seq), Some(spooler)) = (released, &self.spooler) {
            spooler.send(Cmd::Release(seq));
        }
    }

    /// Records that the backend acknowledged the first `batches` batches of the front entry
    /// `ticket`: a spooled window replayed after a crash resumes after them.
    pub fn progress(&self, ticket: u64, batches: u32) {
        let seq = {
            let inner = self.shared.lock();
            match inner.entries.front() {
                Some(e) if e.ticket == ticket => e.disk.as_ref().map(|d| d.location.seq),
                _ => None,
            }
        };
        if let (Some(seq), Some(spooler)) = (seq, &self.spooler) {
            spooler.send(Cmd::Progress(seq, batches));
        }
    }

    /// No more windows will be pushed; the consumer drains what is queued and stops.
    pub fn close(&self) {
        if let Some(spooler) = &self.spooler
            && spooler.send(Cmd::Close)
        {
            return;
        }
        self.shared.close();
    }

    /// Windows currently queued.
    pub fn len(&self) -> usize {
        self.shared.lock().entries.len()
    }

    /// True when nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// After a shutdown deadline passed: removes what only memory holds and returns
    /// `(windows, series)` of it, lost; what the spool holds stays for the next start.
    pub fn take_unspooled(&self) -> (usize, u64) {
        let mut inner = self.shared.lock();
        let mut lost = (0, 0);
        let kept: VecDeque<Entry> = std::mem::take(&mut inner.entries)
            .into_iter()
            .filter(|e| {
                let on_disk = e.disk.is_some();
                if !on_disk {
                    lost.0 += 1;
                    lost.1 += e.meta.series;
                }
                on_disk
            })
            .collect();
        inner.bytes = kept.iter().map(|e| e.bytes).sum();
        inner.in_memory = 0;
        inner.spooled = kept.len() as u64;
        inner.spooled_bytes = inner.bytes;
        inner.entries = kept;
        self.shared.publish_depth(&inner);
        lost
    }

    /// Windows the spool keeps for the next start.
    pub fn spooled(&self) -> usize {
        self.shared.lock().spooled as usize
    }

    /// Stops the spool's thread after it wrote and synced everything it was given; a spool
    /// never started is cancelled first. Blocks.
    pub fn stop_spool(&self) {
        let Some(spooler) = &self.spooler else { return };
        self.cancel_spool();
        spooler.send(Cmd::Stop);
        let thread = spooler.thread.lock().unwrap_or_else(PoisonError::into_inner).take();
        if let Some(thread) = thread {
            let _ = thread.join();
        }
    }
}

impl Spooler {
    /// Hands `cmd` to the thread; false when the thread is gone.
    fn send(&self, cmd: Cmd) -> bool {
        self.tx.lock().unwrap_or_else(PoisonError::into_inner).send(cmd).is_ok()
    }

    /// The start signal, once: whoever takes it starts or cancels the spool.
    fn take_go(&self) -> Option<mpsc::Sender<()>> {
        self.go.lock().unwrap_or_else(PoisonError::into_inner).take()
    }
}

impl Shared {
    fn new(config: &BufferConfig, stats: Arc<BackendStats>) -> Self {
        Self {
            inner: Mutex::new(Inner::default()),
            notify: Notify::new(),
            max_windows: config.max_windows.max(1),
            max_bytes: config.max_bytes.0,
            when_full: config.when_full,
            stats,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn fall_back(&self, reason: String) {
        tracing::error!(backend = %self.stats.name, reason = %reason, "Disk buffer unusable: buffering in memory.");
        self.stats.set_buffer(BufferMode::MemoryFallback, Some(reason));
    }

    fn close(&self) {
        self.lock().closed = true;
        self.notify.notify_one();
    }

    fn set_window(&self, ticket: u64, window: Arc<Window>) {
        let mut inner = self.lock();
        if let Some(e) = inner.entries.iter_mut().find(|e| e.ticket == ticket) {
            e.window = Some(window);
        }
    }

    /// Queues a window held in memory only.
    fn admit_memory(&self, window: Arc<Window>) {
        let meta = Meta { end_ms: window.end_ms, series: window.series.len() as u64 };
        let bytes = window.approx_bytes();
        if self.refuses(bytes) {
            self.refuse(meta.series);
            return;
        }
        self.admit(Some(window), meta, bytes, None);
    }

    /// True when `drop_newest` keeps the queue as it is rather than take `bytes` more.
    fn refuses(&self, bytes: u64) -> bool {
        let inner = self.lock();
        self.when_full == WhenFull::DropNewest
            && !inner.entries.is_empty()
            && (inner.in_memory >= self.max_windows || inner.bytes + bytes > self.max_bytes)
    }

    fn refuse(&self, series: u64) {
        self.stats.dropped_buffer_full.fetch_add(series, Relaxed);
        self.lock().drop_log.note(&self.stats.name, series, "Buffer full: dropped the newest window.");
    }

    /// Queues an entry, then drops the oldest while a bound is exceeded (the newest entry is
    /// always kept). Returns the highest spool seq dropped, to release.
    fn admit(&self, window: Option<Arc<Window>>, meta: Meta, bytes: u64, disk: Option<OnDisk>) -> Option<u64> {
        let mut released = None;
        {
            let mut inner = self.lock();
            let ticket = inner.next_ticket;
            inner.next_ticket += 1;
            inner.bytes += bytes;
            inner.in_memory += usize::from(disk.is_none());
            if disk.is_some() {
                inner.spooled += 1;
                inner.spooled_bytes += bytes;
            }
            inner.entries.push_back(Entry { ticket, window, meta, bytes, disk });
            while inner.entries.len() > 1 && (inner.in_memory > self.max_windows || inner.bytes > self.max_bytes) {
                let old = inner.pop_front();
                self.stats.dropped_buffer_full.fetch_add(old.meta.series, Relaxed);
                if old.disk.as_ref().is_some_and(|d| d.replayed) {
                    self.stats.replay_pending.fetch_sub(1, Relaxed);
                }
                released = old.disk.map(|d| d.location.seq).or(released);
                inner.drop_log.note(&self.stats.name, old.meta.series, "Buffer full: dropped the oldest windows.");
            }
            self.publish_depth(&inner);
        }
        self.notify.notify_one();
        released
    }

    fn publish_depth(&self, inner: &Inner) {
        self.stats.buffered_windows.store(inner.entries.len() as u64, Relaxed);
        self.stats.buffered_bytes.store(inner.bytes, Relaxed);
        self.stats.spooled_windows.store(inner.spooled, Relaxed);
        self.stats.spooled_bytes.store(inner.spooled_bytes, Relaxed);
        self.stats.oldest_end_ms.store(inner.entries.front().map_or(0, |e| e.meta.end_ms.max(1)), Relaxed);
    }
}

impl Inner {
    fn pop_front(&mut self) -> Entry {
        let entry = self.entries.pop_front().expect("a front entry");
        self.bytes -= entry.bytes;
        self.in_memory -= usize::from(entry.disk.is_none());
        if entry.disk.is_some() {
            self.spooled -= 1;
            self.spooled_bytes -= entry.bytes;
        }
        entry
    }
}

impl DropLog {
    /// Counts one dropped window and logs the drops since the last message, at most once per
    /// [`DROP_LOG_INTERVAL`].
    fn note(&mut self, backend: &str, series: u64, message: &'static str) {
        self.windows += 1;
        self.series += series;
        if self.last.is_some_and(|t| t.elapsed() < DROP_LOG_INTERVAL) {
            return;
        }
        tracing::warn!(backend, windows = self.windows, series = self.series, "{message}");
        *self = Self { last: Some(Instant::now()), windows: 0, series: 0 };
    }
}

/// The spool's thread: recovers what the spool held, then appends and releases in the order
/// the queue asks, syncing as the fsync policy says.
fn run_spooler(spool: Spool, recovered: spool::Recovered, shared: &Shared, rx: &mpsc::Receiver<Cmd>) {
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
    for Pending { location, meta, bytes, batches_done } in recovered.pending {
        let disk = OnDisk { location, replayed: true, batches_done };
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
            Ok(Cmd::Progress(seq, batches)) => {
                if let Err(e) = disk.spool.progress(seq, batches) {
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
        let disk = OnDisk { location: appended.location, replayed: false, batches_done: 0 };
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
fn run_without_spool(shared: &Shared, rx: &mpsc::Receiver<Cmd>) {
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
fn run_never_started(shared: &Shared, rx: &mpsc::Receiver<Cmd>) {
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
