//! `[sinks.NAME]` with `type = "statsd"`.

use std::net::SocketAddr;
use std::path::PathBuf;

use serde::Deserialize;

use crate::delivery::{BufferConfig, RetryConfig};
use crate::registry::BuildError;

/// Default for [`StatsdSinkConfig::max_datagram_bytes`] over UDP: an Ethernet MTU of 1500 less
/// the IPv4/IPv6 and UDP headers, with room for tunnels (the value DogStatsD clients use).
pub const DEFAULT_UDP_DATAGRAM_BYTES: usize = 1432;
/// Default for [`StatsdSinkConfig::max_datagram_bytes`] over a Unix socket (the DogStatsD
/// agent's default `dogstatsd_buffer_size`).
pub const DEFAULT_UNIX_DATAGRAM_BYTES: usize = 8192;
/// Smallest accepted `max_datagram_bytes`: room for one short line with tags.
pub const MIN_DATAGRAM_BYTES: usize = 64;
/// Largest accepted `max_datagram_bytes`: the largest UDP payload over IPv4.
pub const MAX_DATAGRAM_BYTES: usize = 65_507;
/// Default for [`StatsdSinkConfig::max_datagram_bytes`] over a stream (TCP or Unix): the
/// size of one write. Lines never straddle two writes, so an upstream that reads whole lines
/// per read (Etsy's `servers/tcp`) never sees a line cut by sluice.
pub const DEFAULT_STREAM_WRITE_BYTES: usize = 16_384;
/// Default for [`StatsdSinkConfig::max_samples_per_series`].
pub const DEFAULT_MAX_SAMPLES: usize = 64;
/// Default for [`StatsdSinkConfig::pace`]: a window's datagrams are spread over half of the
/// window's interval.
pub const DEFAULT_PACE: f64 = 0.5;

/// Forwards every window to an upstream StatsD or DogStatsD server, so that the upstream's
/// totals equal what sluice received (see `docs/translation.md`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatsdSinkConfig {
    /// The upstream's UDP or TCP address, an IP address and a port (`"127.0.0.1:8125"`).
    /// Exactly one of `address` and `unix` is required.
    #[serde(default)]
    pub address: Option<SocketAddr>,
    /// The upstream's Unix socket (datagram or stream, see `transport`). Exactly one of
    /// `address` and `unix` is required.
    #[serde(default)]
    pub unix: Option<PathBuf>,
    /// How lines travel: `"udp"` or `"tcp"` with `address`, `"datagram"` or `"stream"` with
    /// `unix`. Over a stream lines are newline-terminated, the connection is opened again
    /// after a failure (with the retry backoff) and a batch counts as sent once all of it was
    /// written. Defaults to `"udp"` with `address` and `"datagram"` with `unix`.
    #[serde(default)]
    pub transport: Option<Transport>,
    /// Over a datagram transport, the part of a window's interval over which its datagrams
    /// are spread, so that the burst of one flush does not overflow the upstream's receive
    /// buffer: a window of 1 s with 200 datagrams and `pace = 0.5` sends one every 2.5 ms.
    /// Datagrams are never more than 5 ms apart, so a long window is not held back for
    /// nothing. Below 1, so a backlog of windows drains faster than windows arrive; 0 sends
    /// each window in one burst. Streams are not paced (TCP's flow control does it). Defaults to
    /// 0.5.
    #[serde(default = "default_pace")]
    pub pace: f64,
    /// `"dogstatsd"` appends the series' tags and the agent's tags as `|#k:v,k2:v2`; `"none"`
    /// sends no tags (plain StatsD; series that differ only by tags then add up upstream).
    /// Defaults to `"dogstatsd"`.
    #[serde(default)]
    pub tag_format: TagFormat,
    /// Largest datagram sent (over a stream: largest write), in bytes. Lines are never split
    /// across datagrams or writes; a series with a line longer than this is dropped and
    /// counted (`reason="rejected"`). Between 64 and 65507. Defaults to 1432 over UDP, 8192
    /// over a Unix datagram socket and 16384 over a stream.
    #[serde(default)]
    pub max_datagram_bytes: Option<usize>,
    /// Most lines (or packed values) sent for one timer, histogram or distribution per window;
    /// counts stay exact through `@rate`. At least 2. Defaults to 64.
    #[serde(default = "default_max_samples")]
    pub max_samples_per_series: usize,
    /// Packs the samples of one series into one line (`name:1:2:3|ms`), as DogStatsD 1.1 and
    /// later read it. Etsy StatsD does not: leave it off for Etsy. Defaults to false.
    #[serde(default)]
    pub pack_values: bool,
    /// Sends histograms (`h`) and distributions (`d`) as timers (`ms`). Etsy StatsD reads `h`
    /// and `d` as counters, so set it when the upstream is Etsy StatsD. Defaults to false: each
    /// keeps its own type.
    #[serde(default)]
    pub summaries_as_timers: bool,
    /// How windows wait while the upstream is unreachable. Defaults to memory, 360 windows.
    #[serde(default)]
    pub buffer: BufferConfig,
    /// How failed sends are retried. Defaults to backoff from 1s up to 60s, without limit.
    #[serde(default)]
    pub retry: RetryConfig,
}

/// How tags are written on the wire.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TagFormat {
    /// `|#k:v,k2:v2` after the type and rate.
    #[default]
    Dogstatsd,
    /// No tags.
    None,
}

/// The `transport` key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Transport {
    /// UDP datagrams to `address`.
    Udp,
    /// A TCP connection to `address`.
    Tcp,
    /// Datagrams to the Unix socket `unix`.
    Datagram,
    /// A connection to the Unix stream socket `unix`.
    Stream,
}

/// Where lines go, and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// UDP datagrams to an address.
    Udp(SocketAddr),
    /// Datagrams to a Unix socket.
    Unix(PathBuf),
    /// A TCP connection.
    Tcp(SocketAddr),
    /// A Unix stream connection.
    UnixStream(PathBuf),
}

impl Target {
    /// True for TCP and Unix stream connections.
    pub fn is_stream(&self) -> bool {
        matches!(self, Self::Tcp(_) | Self::UnixStream(_))
    }
}

impl StatsdSinkConfig {
    /// The destination, or the key to fix and why.
    pub fn target(&self) -> Result<Target, BuildError> {
        match (&self.address, &self.unix) {
            (Some(addr), None) => match self.transport {
                None | Some(Transport::Udp) => Ok(Target::Udp(*addr)),
                Some(Transport::Tcp) => Ok(Target::Tcp(*addr)),
                Some(Transport::Datagram | Transport::Stream) => Err(BuildError::at(
                    "transport",
                    "\"datagram\" and \"stream\" go with unix; with address use \"udp\" or \"tcp\"".to_owned(),
                )),
            },
            (None, Some(path)) if path.as_os_str().is_empty() => {
                Err(BuildError::at("unix", "must not be empty".to_owned()))
            }
            (None, Some(path)) => match self.transport {
                None | Some(Transport::Datagram) => Ok(Target::Unix(path.clone())),
                Some(Transport::Stream) => Ok(Target::UnixStream(path.clone())),
                Some(Transport::Udp | Transport::Tcp) => Err(BuildError::at(
                    "transport",
                    "\"udp\" and \"tcp\" go with address; with unix use \"datagram\" or \"stream\"".to_owned(),
                )),
            },
            (Some(_), Some(_)) => Err(BuildError::at(
                "address",
                "set either address (UDP) or unix (Unix datagram socket), not both".to_owned(),
            )),
            (None, None) => Err(BuildError::at(
                "address",
                "missing: set address = \"127.0.0.1:8125\" (UDP) or unix = \"/path/to/socket\"".to_owned(),
            )),
        }
    }

    /// The datagram size limit in effect: the configured one or the transport's default.
    pub fn datagram_limit(&self) -> usize {
        self.max_datagram_bytes.unwrap_or(match self.transport {
            Some(Transport::Tcp | Transport::Stream) => DEFAULT_STREAM_WRITE_BYTES,
            _ if self.unix.is_some() => DEFAULT_UNIX_DATAGRAM_BYTES,
            _ => DEFAULT_UDP_DATAGRAM_BYTES,
        })
    }

    /// Checks every key; on failure names the key to fix and says why.
    pub fn check(&self) -> Result<(), BuildError> {
        self.target()?;
        let limit = self.datagram_limit();
        if !(MIN_DATAGRAM_BYTES..=MAX_DATAGRAM_BYTES).contains(&limit) {
            return Err(BuildError::at(
                "max_datagram_bytes",
                format!("{limit} is out of range: use {MIN_DATAGRAM_BYTES} to {MAX_DATAGRAM_BYTES}"),
            ));
        }
        if !(0.0..1.0).contains(&self.pace) {
            return Err(BuildError::at(
                "pace",
                format!("{} is out of range: use a fraction of the interval from 0 up to (not including) 1", self.pace),
            ));
        }
        if self.max_samples_per_series < 2 {
            return Err(BuildError::at("max_samples_per_series", "must be at least 2".to_owned()));
        }
        Ok(())
    }
}

fn default_pace() -> f64 {
    DEFAULT_PACE
}

fn default_max_samples() -> usize {
    DEFAULT_MAX_SAMPLES
}
