//! The OTLP receiver in the source registry: one instance per `[sources.otlp]` table.

use std::io;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use tokio::sync::watch;

use super::server::{Receiver, run};
use crate::config::{Config, OtlpConfig};
use crate::sources::registry::{Feed, Handle, Place, Spec, Start};
use crate::systemd::Activation;
use crate::telemetry::ListenerStats;
use crate::topology::StartError;

/// The receiver, identified by its whole `[sources.otlp]` table: a change to any key replaces
/// it (and starts its cumulative baselines over).
#[derive(Debug, Clone, PartialEq)]
pub struct OtlpSpec(pub OtlpConfig);

/// The receiver's socket, bound and waiting to serve.
#[derive(Debug)]
pub struct OtlpListener {
    listener: std::net::TcpListener,
    config: OtlpConfig,
}

impl Spec for OtlpSpec {
    type Bound = OtlpListener;

    fn keys(config: &Config) -> Result<Vec<Self>, StartError> {
        Ok(config.sources.otlp.iter().cloned().map(Self).collect())
    }

    fn describe(&self) -> String {
        format!("[sources.otlp] listen = \"{}\"", self.0.listen)
    }

    fn place(&self) -> Place<'_> {
        Place::Tcp(self.0.listen)
    }

    fn bind(&self, _: &mut Activation) -> Result<(OtlpListener, bool), StartError> {
        let addr = self.0.listen;
        let error = |source| StartError::Bind { key: "[sources.otlp].listen", target: addr.to_string(), source };
        let listener = std::net::TcpListener::bind(addr).map_err(error)?;
        listener.set_nonblocking(true).map_err(error)?;
        Ok((OtlpListener { listener, config: self.0.clone() }, false))
    }
}

impl OtlpListener {
    /// The address it is bound to (the configured one, with the port the kernel chose for 0).
    pub fn local_addr(&self) -> io::Result<std::net::SocketAddr> {
        self.listener.local_addr()
    }
}

impl Start for OtlpListener {
    fn label(&self) -> String {
        format!("otlp:{}", self.config.listen)
    }

    /// Serves on the runtime; its byte counter counts request bodies as sent, its line counter
    /// the samples the requests became.
    fn start(self, index: usize, stats: Arc<ListenerStats>, to: &Feed) -> io::Result<Handle> {
        let listener = tokio::net::TcpListener::from_std(self.listener)?;
        let started = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64);
        let receiver = Receiver::new(&self.config, started, index, stats, Arc::clone(&to.telemetry), to.tx.clone());
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(run(listener, Arc::new(receiver), stopped));
        Ok(Handle::Task(stop, task))
    }
}
