use std::time::{Duration, Instant};

use tokio::sync::mpsc::Receiver;
use tokio::sync::mpsc::error::TryRecvError;

use crate::aggregator::input::{Batch, Input};

/// How long a test waits for a batch before failing instead of hanging.
const PATIENCE: Duration = Duration::from_secs(20);

/// The next batch, `None` once every sender is gone; panics after [`PATIENCE`].
pub(crate) fn recv(rx: &mut Receiver<Input>) -> Option<Batch> {
    let deadline = Instant::now() + PATIENCE;
    loop {
        match rx.try_recv() {
            Ok(input) => return Some(input.into_batch()),
            Err(TryRecvError::Disconnected) => return None,
            Err(TryRecvError::Empty) => {
                assert!(Instant::now() < deadline, "no batch within {PATIENCE:?}");
                std::thread::sleep(Duration::from_millis(1));
            }
        }
    }
}

/// Every datagram until every sender is gone.
pub(crate) fn collect(rx: &mut Receiver<Input>) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    while let Some(batch) = recv(rx) {
        out.extend(batch.datagrams().map(<[u8]>::to_vec));
    }
    out
}
