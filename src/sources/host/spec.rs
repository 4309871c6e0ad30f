//! The host sampler in the source registry: one instance per `[sources.host]` table.

use std::io;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use super::emit::Context;
use super::sampler::{HostSource, LABEL, Sampler};
use crate::config::{Config, HostConfig};
use crate::sources::registry::{Feed, Handle, Place, Spec, Start};
use crate::systemd::Activation;
use crate::telemetry::ListenerStats;
use crate::topology::StartError;

/// The host sampler, identified by its whole `[sources.host]` table.
#[derive(Debug, Clone, PartialEq)]
pub struct HostSpec(pub HostConfig);

impl Spec for HostSpec {
    type Bound = HostSource;

    fn keys(config: &Config) -> Result<Vec<Self>, StartError> {
        Ok(config.sources.host.iter().cloned().map(Self).collect())
    }

    fn describe(&self) -> String {
        "[sources.host]".to_owned()
    }

    fn place(&self) -> Place<'_> {
        Place::Singleton(LABEL)
    }

    fn bind(&self, _: &mut Activation) -> Result<(HostSource, bool), StartError> {
        let h = &self.0;
        let context = Context::new(h.per_cpu, h.exclude_fstypes.clone(), h.exclude_devices.clone());
        Ok((HostSource { interval: h.interval.0, sampler: Sampler::new(context) }, false))
    }
}

impl Start for HostSource {
    fn label(&self) -> String {
        LABEL.to_owned()
    }

    /// Samples on its own thread; it counts no bytes (it reads no socket).
    fn start(self, index: usize, _: Arc<ListenerStats>, to: &Feed) -> io::Result<Handle> {
        let stop = Arc::new(AtomicBool::new(false));
        let thread = self.run(index, to.tx.clone(), Arc::clone(&stop))?;
        Ok(Handle::Thread(stop, thread))
    }
}
