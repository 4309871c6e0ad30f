//! The hand-over between a sink a reload rebuilds and the one it replaces: the new sink starts
//! (opens its spool, loads its state, sends) only once the old one has stopped, because both
//! would otherwise use one spool and one state file at the same time.

use tokio::sync::watch;

/// What a rebuilt sink waits for before it starts. Resolves once the sink it replaces has
/// stopped, or as cancelled when that one's [`Predecessor`] was dropped without saying so.
#[derive(Debug, Clone)]
pub struct Handover {
    stopped: watch::Receiver<bool>,
}

/// The retiring sink's side of a [`Handover`]: [`Predecessor::stopped`] lets the successor
/// start. Dropped without it (a reload refused after its sinks were built), the successor
/// never starts.
#[derive(Debug)]
pub struct Predecessor {
    stopped: watch::Sender<bool>,
}

/// The successor will never start: the sink it was to replace did not stop for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the sink this one replaces was not retired")]
pub struct Cancelled;

impl Handover {
    /// A new hand-over: the side the retiring sink signals, and the side its successor awaits.
    pub fn new() -> (Predecessor, Self) {
        let (tx, rx) = watch::channel(false);
        (Predecessor { stopped: tx }, Self { stopped: rx })
    }

    /// Waits until the sink this one replaces has stopped: its spool is synced and unlocked,
    /// its last state saved. Returns at once if it already has.
    pub async fn wait(&mut self) -> Result<(), Cancelled> {
        // A `true` sent before the sender was dropped still counts.
        self.stopped.wait_for(|stopped| *stopped).await.map(drop).map_err(|_| Cancelled)
    }
}

impl Predecessor {
    /// Says the retiring sink has stopped: its successor starts.
    pub fn stopped(self) {
        // The successor may be gone already (a sink a later reload removed): nothing waits.
        let _ = self.stopped.send(true);
    }
}

#[cfg(test)]
mod tests {
    use super::{Cancelled, Handover};

    /// Every clone resolves once the predecessor says it stopped, even after it is dropped.
    #[tokio::test]
    async fn a_handover_resolves_for_every_clone_once_the_predecessor_stopped() {
        let (predecessor, mut handover) = Handover::new();
        let mut copy = handover.clone();
        let waiting = tokio::spawn(async move { copy.wait().await });
        predecessor.stopped();
        assert_eq!(waiting.await.unwrap(), Ok(()));
        assert_eq!(handover.wait().await, Ok(()));
    }

    /// A predecessor dropped without saying it stopped cancels the hand-over.
    #[tokio::test]
    async fn a_predecessor_dropped_unsignalled_cancels_the_handover() {
        let (predecessor, mut handover) = Handover::new();
        drop(predecessor);
        assert_eq!(handover.wait().await, Err(Cancelled));
    }
}
