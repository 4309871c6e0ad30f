//! The scrape source in the registry: one instance per `[sources.scrape.NAME]` table.

use std::io;
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use tokio::sync::watch;

use super::run::{Source, Target, run};
use crate::config::{Config, ScrapeConfig};
use crate::sources::otlp::Cumulative;
use crate::sources::registry::{Feed, Handle, Place, Spec, Start};
use crate::systemd::Activation;
use crate::telemetry::ListenerStats;
use crate::topology::StartError;

/// A scrape source, identified by its name and whole table: a change to any key replaces it
/// (and starts its baselines over).
#[derive(Debug, Clone, PartialEq)]
pub struct ScrapeSpec {
    /// The table's name.
    pub name: String,
    /// The table.
    pub config: ScrapeConfig,
}

/// A scrape source with its client built, waiting to start.
#[derive(Debug)]
pub struct ScrapeSource {
    spec: ScrapeSpec,
    client: reqwest::Client,
    targets: Vec<Target>,
}

impl Spec for ScrapeSpec {
    type Bound = ScrapeSource;

    fn keys(config: &Config) -> Result<Vec<Self>, StartError> {
        let tables = config.sources.scrape.iter();
        Ok(tables.map(|(name, config)| Self { name: name.clone(), config: config.clone() }).collect())
    }

    fn describe(&self) -> String {
        format!("[sources.scrape.{}]", self.name)
    }

    fn place(&self) -> Place<'_> {
        Place::Named("scrape", &self.name)
    }

    /// Builds the HTTP client; nothing is bound.
    fn bind(&self, _: &mut Activation) -> Result<(ScrapeSource, bool), StartError> {
        let client = backends::delivery::http::client().map_err(|e| StartError::Bind {
            key: "[sources.scrape]",
            target: self.name.clone(),
            source: io::Error::other(e),
        })?;
        let targets = self.config.targets.iter().filter_map(|t| reqwest::Url::parse(t).ok()).map(Target::new);
        Ok((ScrapeSource { spec: self.clone(), client, targets: targets.collect() }, false))
    }
}

impl Start for ScrapeSource {
    fn label(&self) -> String {
        format!("scrape:{}", self.spec.name)
    }

    /// Reads on the runtime; its byte counter counts bodies as sent, its line counter the lines
    /// of good reads.
    fn start(self, index: usize, stats: Arc<ListenerStats>, to: &Feed) -> io::Result<Handle> {
        let started_unix = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64);
        let config = self.spec.config;
        let state = Cumulative::new(config.max_series, config.expire_after.0, started_unix);
        let source = Source {
            scrape: to.telemetry.scrape_source(&self.spec.name),
            name: self.spec.name,
            config,
            client: self.client,
            state: Mutex::new(state),
            started_unix,
            started: Instant::now(),
            listener: index,
            stats,
            tx: to.tx.clone(),
        };
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(run(Arc::new(source), self.targets, stopped));
        Ok(Handle::Task(stop, task))
    }
}
