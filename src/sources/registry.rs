//! Every source, named once. A source is a [`Spec`]: what in the config identifies one
//! running instance (a change to it replaces the instance on reload), how it is bound and how
//! it starts. The `registry!` list at the bottom is the only place that names the sources;
//! the topology iterates over [`Key`]s and never matches on a source.
//!
//! Adding a source: its directory under `src/sources/`, a type implementing [`Spec`] (and its
//! bound form implementing [`Start`]), one line in the list, and its docs.

use std::io;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use tokio::sync::{mpsc, watch};

use crate::aggregator::input::{BatchPool, Input};
use crate::config::Config;
use crate::systemd::Activation;
use crate::telemetry::{ListenerStats, Telemetry};
use crate::topology::StartError;

/// Where a source receives: two sources at one place cannot both be bound, so a reload that
/// moves options at one place stops the old instance before binding the new one.
#[derive(Debug, PartialEq)]
pub enum Place<'a> {
    /// A source of which one instance runs at most (the host sampler).
    Singleton(&'static str),
    /// An IP address and UDP port.
    Udp(SocketAddr),
    /// An IP address and TCP port.
    Tcp(SocketAddr),
    /// A socket file.
    Path(&'a Path),
    /// A source that binds nothing, one instance per name: `("probe", "api")`, `("scrape", "app")`.
    Named(&'static str, &'a str),
}

/// One kind of source, as the config describes one instance of it.
pub trait Spec: Sized + Clone + PartialEq + std::fmt::Debug {
    /// The source bound (its socket open) and waiting to start.
    type Bound: Start;

    /// Every instance `config` asks for, in config order.
    fn keys(config: &Config) -> Result<Vec<Self>, StartError>;

    /// The config key and value, for messages: `udp = "127.0.0.1:8125"`.
    fn describe(&self) -> String;

    /// Where the instance receives.
    fn place(&self) -> Place<'_>;

    /// Binds the instance, adopting the matching socket of `activation` if there is one.
    /// Returns whether the socket was adopted.
    fn bind(&self, activation: &mut Activation) -> Result<(Self::Bound, bool), StartError>;
}

/// A bound source, ready to send its input to the aggregator.
pub trait Start {
    /// The `listener` label of its telemetry.
    fn label(&self) -> String;

    /// Starts sending to `to.tx`, counting in `stats` (entry `index` of the telemetry).
    fn start(self, index: usize, stats: Arc<ListenerStats>, to: &Feed) -> io::Result<Handle>;
}

/// What every source sends its input with.
#[derive(Debug, Clone)]
pub struct Feed {
    /// Recycled StatsD batches.
    pub pool: Arc<BatchPool>,
    /// The aggregator's input.
    pub tx: mpsc::Sender<Input>,
    /// The agent's telemetry, for counters beyond a listener's own.
    pub telemetry: Arc<Telemetry>,
}

/// How a running source is told to stop, and waited for.
#[derive(Debug)]
pub enum Handle {
    /// A source on its own OS thread, which checks the flag at least every 100 ms.
    Thread(Arc<AtomicBool>, std::thread::JoinHandle<io::Result<()>>),
    /// A source on the runtime.
    Task(watch::Sender<bool>, tokio::task::JoinHandle<io::Result<()>>),
}

/// Builds [`Key`] (one variant per source, holding its [`Spec`]) and [`Bound`], with the
/// dispatch from each to the source's own code.
macro_rules! registry {
    ($($(#[$doc:meta])* $name:ident($spec:ty),)+) => {
        /// What identifies a running source: a change to any part of it replaces the source.
        #[derive(Debug, Clone, PartialEq)]
        pub enum Key {
            $($(#[$doc])* $name($spec),)+
        }

        /// A source bound and waiting to start.
        pub enum Bound {
            $($(#[$doc])* $name(<$spec as Spec>::Bound),)+
        }

        impl Key {
            /// Every source `config` asks for, in start order: the sources in the order of
            /// the registry, each kind's instances in config order.
            pub fn all(config: &Config) -> Result<Vec<Key>, StartError> {
                let mut keys = Vec::new();
                $(keys.extend(<$spec as Spec>::keys(config)?.into_iter().map(Key::$name));)+
                Ok(keys)
            }

            /// See [`Spec::describe`].
            pub fn describe(&self) -> String {
                match self { $(Self::$name(spec) => spec.describe(),)+ }
            }

            /// See [`Spec::place`].
            pub fn place(&self) -> Place<'_> {
                match self { $(Self::$name(spec) => spec.place(),)+ }
            }

            /// See [`Spec::bind`].
            pub fn bind(&self, activation: &mut Activation) -> Result<(Bound, bool), StartError> {
                match self { $(Self::$name(spec) => spec.bind(activation).map(|(b, adopted)| (Bound::$name(b), adopted)),)+ }
            }
        }

        impl Bound {
            /// See [`Start::label`].
            pub fn label(&self) -> String {
                match self { $(Self::$name(bound) => bound.label(),)+ }
            }

            /// See [`Start::start`].
            pub fn start(self, index: usize, stats: Arc<ListenerStats>, to: &Feed) -> io::Result<Handle> {
                match self { $(Self::$name(bound) => bound.start(index, stats, to),)+ }
            }
        }
    };
}

registry! {
    /// The host sampler, with its whole `[sources.host]` table.
    Host(crate::sources::host::HostSpec),
    /// A StatsD UDP socket.
    Udp(crate::sources::statsd::UdpSpec),
    /// A StatsD Unix datagram socket.
    Unix(crate::sources::statsd::UnixSpec),
    /// A StatsD Unix stream socket.
    Stream(crate::sources::statsd::StreamSpec),
    /// The OTLP/HTTP receiver, with its whole `[sources.otlp]` table.
    Otlp(crate::sources::otlp::OtlpSpec),
    /// sluice's own telemetry, with its whole `[sources.internal]` table.
    Internal(crate::sources::internal::InternalSpec),
    /// A health probe, with its whole `[sources.probe.NAME]` table.
    Probe(crate::sources::probe::ProbeSpec),
    /// A Prometheus scrape source, with its whole `[sources.scrape.NAME]` table.
    Scrape(crate::sources::scrape::ScrapeSpec),
}
