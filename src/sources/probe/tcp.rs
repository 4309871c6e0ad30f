//! `type = "tcp"`: a connection to `address`, then, when asked, `send` written and `expect`
//! awaited in the answer.

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::Outcome;
use crate::config::TcpProbe;

/// Most bytes of the answer read while looking for `expect`.
const MAX_ANSWER: usize = 64 << 10;

/// Connects and checks; the caller bounds it with the probe's timeout.
pub async fn check(probe: &TcpProbe) -> Outcome {
    let mut stream = match TcpStream::connect(&probe.address).await {
        Ok(stream) => stream,
        Err(e) => return Outcome::fail(format!("cannot connect to {}: {e}", probe.address), Vec::new()),
    };
    if let Some(send) = &probe.send
        && let Err(e) = stream.write_all(send.as_bytes()).await
    {
        return Outcome::fail(format!("cannot send to {}: {e}", probe.address), Vec::new());
    }
    let Some(expect) = &probe.expect else { return Outcome::pass(Vec::new()) };
    let mut answer = Vec::new();
    let mut buf = [0; 4096];
    while answer.len() < MAX_ANSWER {
        match stream.read(&mut buf).await {
            Ok(0) => break,
            Ok(n) => answer.extend_from_slice(&buf[..n]),
            Err(e) => return Outcome::fail(format!("cannot read from {}: {e}", probe.address), Vec::new()),
        }
        if contains(&answer, expect.as_bytes()) {
            return Outcome::pass(Vec::new());
        }
    }
    Outcome::fail(format!("the answer of {} does not contain {expect:?}", probe.address), Vec::new())
}

/// Whether `haystack` contains `needle`.
pub fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || haystack.windows(needle.len()).any(|w| w == needle)
}
