//! The queue's handle: what the aggregator pushes to and the delivery task takes from, and
//! the spool thread it starts for a disk buffer.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::mpsc;
use std::sync::{Arc, Mutex, PoisonError};

use super::spooler::{Cmd, run_never_started, run_spooler, run_without_spool};
use super::state::{Entry, Shared};
use crate::delivery::config::{BufferConfig, BufferType};
use crate::delivery::spool::{self, Position, Progress, Spool};
use crate::delivery::stats::{BackendStats, BufferMode};
use crate::model::Window;

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
    /// How far its delivery got before a restart: those batches are not sent again.
    pub progress: Progress,
}

#[derive(Debug)]
struct Spooler {
    tx: Mutex<mpsc::Sender<Cmd>>,
    thread: Mutex<Option<std::thread::JoinHandle<()>>>,
    /// Until the spool may be opened: sending on it opens the spool, dropping it means never.
    go: Mutex<Option<mpsc::Sender<()>>>,
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
                            let progress = disk.as_ref().map(|d| d.progress).unwrap_or_default();
                            return Some(Front { ticket: e.ticket, window: Arc::clone(window), position, progress });
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

    /// Records how far the delivery of the front entry `ticket` got: a spooled window
    /// replayed after a crash resumes after the batches it counts.
    pub fn progress(&self, ticket: u64, progress: Progress) {
        // A memory buffer keeps nothing across a restart: nothing to record.
        let Some(spooler) = &self.spooler else { return };
        let seq = {
            let inner = self.shared.lock();
            match inner.entries.front() {
                Some(e) if e.ticket == ticket => e.disk.as_ref().map(|d| d.location.seq),
                _ => None,
            }
        };
        if let Some(seq) = seq {
            spooler.send(Cmd::Progress(seq, progress));
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
