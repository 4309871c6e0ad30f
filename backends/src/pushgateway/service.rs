//! The Pushgateway backend's task side: one `PUT` of the whole group per window.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Duration;

use base64::Engine as _;
use reqwest::{Client, RequestBuilder, header};

use super::config::{Format, PushgatewayConfig};
use crate::backend::{Backend, Encoded, Halves, SendError};
use crate::delivery::http::{Refusal, execute, from_reqwest, refusal};
use crate::delivery::{HttpAuth, Position};
use crate::model::Window;
use crate::prometheus::{Conflicts, Context, Encoder, State, protobuf, text};
use crate::registry::BuildError;

/// Content type of a delimited protobuf push, as the Pushgateway documents it.
pub const PROTOBUF_CONTENT_TYPE: &str =
    "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited";
/// Content type of a text-format push.
pub const TEXT_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// One push: the whole group's current state.
#[derive(Debug, Clone, PartialEq)]
pub struct Push {
    /// The encoded families.
    pub body: Vec<u8>,
}

/// Pushes each window to one Pushgateway group with `PUT`, so the group always holds exactly
/// the current totals (see `docs/translation.md`).
#[derive(Debug)]
pub struct Pushgateway {
    client: Client,
    /// `<url>/metrics/job/<job>/instance/<host>...`.
    group_url: String,
    format: Format,
    auth: HttpAuth,
    timeout: Duration,
    delete_on_shutdown: bool,
    expire_after: Option<Duration>,
    encoder: Encoder,
    state: State,
    state_path: PathBuf,
    /// Families left out of pushes: logged once each, their series counted as dropped.
    conflicts: Conflicts,
}

impl Pushgateway {
    /// Validates `config`, reads its secret files and loads the cumulative state of sink
    /// `name` from `context.data_dir` (`pushgateway-<name>.json`). Loading here refuses a
    /// start or a reload whose state file cannot be read; [`Backend::begin`] loads it again,
    /// as the sink this one replaces left it.
    pub fn new(name: &str, config: &PushgatewayConfig, context: Context) -> Result<Self, BuildError> {
        config.validate()?;
        let auth = config.credentials().read()?;
        let mut grouping = BTreeMap::from([("instance".to_owned(), context.hostname.clone())]);
        grouping.extend(config.grouping.iter().map(|(k, v)| (k.clone(), v.clone())));
        let group_url = group_url(&config.url, &config.job, &grouping);
        let encoder =
            Encoder::new(std::iter::once("job").chain(grouping.keys().map(String::as_str)), context.mappings.clone());
        let state_path = context.data_dir.join(format!("pushgateway-{name}.json"));
        let state = State::load(&state_path, config.buckets.clone())
            .map_err(|e| BuildError::new(format!("pushgateway state: {e}")))?;
        Ok(Self {
            client: context.client,
            group_url,
            format: config.format,
            auth,
            timeout: config.timeout.0,
            delete_on_shutdown: config.delete_on_shutdown,
            expire_after: config.expire_after.map(|d| d.0),
            encoder,
            state,
            state_path,
            conflicts: Conflicts::default(),
        })
    }

    /// The URL of this agent's group.
    pub fn group_url(&self) -> &str {
        &self.group_url
    }

    /// The cumulative state, as last advanced by [`Backend::encode`].
    #[cfg(test)]
    pub(crate) fn state(&self) -> &State {
        &self.state
    }

    fn request(&self, method: reqwest::Method) -> RequestBuilder {
        let request = self.client.request(method, &self.group_url).timeout(self.timeout);
        self.auth.apply(request)
    }
}

/// A secret given inline or in a file (trailing newline ignored).
/// `<url>/metrics/job/<job>/<label>/<value>...`. A value that is empty or holds anything but
/// `[A-Za-z0-9._~-]` (a `/` above all) is written as `<label>@base64/<URL-safe base64>`, as
/// the Pushgateway documents; an empty value is `=`.
pub fn group_url(base: &str, job: &str, grouping: &BTreeMap<String, String>) -> String {
    let mut url = format!("{}/metrics", base.trim_end_matches('/'));
    for (name, value) in std::iter::once(("job", job)).chain(grouping.iter().map(|(k, v)| (k.as_str(), v.as_str()))) {
        let plain = !value.is_empty() && value.bytes().all(|b| b.is_ascii_alphanumeric() || b"._~-".contains(&b));
        if plain {
            let _ = write!(url, "/{name}/{value}");
        } else if value.is_empty() {
            let _ = write!(url, "/{name}@base64/=");
        } else {
            let _ = write!(url, "/{name}@base64/{}", base64::engine::general_purpose::URL_SAFE.encode(value));
        }
    }
    url
}

impl Pushgateway {
    /// One PUT of the group's whole current state: this window's gauges and every running total.
    fn push_state(&mut self, window: &Window) -> Vec<Encoded<Push>> {
        let (families, dropped) = self.encoder.families(window, &self.state);
        if dropped.by_rule > 0 {
            tracing::debug!(series = dropped.by_rule, "Series dropped by mapping rules; not pushed.");
        }
        self.conflicts.record(&dropped);
        let series = families.values().map(|f| f.metrics.len() as u64).sum();
        let body = match self.format {
            Format::Protobuf => protobuf(&families),
            Format::Text => text(&families).into_bytes(),
        };
        // One request per window: the Pushgateway replaces a group per request, so a group
        // split over several PUTs would keep only the last part.
        vec![Encoded { payload: Push { body }, series }]
    }
}

impl Backend for Pushgateway {
    type Batch = Push;

    fn begin(&mut self) {
        // A reload built this backend while the one it replaces was still pushing and saving
        // its totals: continue from what that one saved last, or counters would go backwards.
        match State::load(&self.state_path, self.state.bounds.clone()) {
            Ok(state) => self.state = state,
            Err(e) => tracing::error!(
                path = %self.state_path.display(),
                error = %e,
                "Cannot read the Pushgateway totals again; continuing from those read at build."
            ),
        }
    }

    fn encode(&mut self, window: &Window) -> Result<Vec<Encoded<Push>>, SendError> {
        // Advance the totals once per window: counters, histograms and sets are cumulative;
        // the mapping rules decide what is kept, at which buckets, for how long.
        let dropped = self.encoder.advance(&mut self.state, window, self.expire_after);
        if dropped > 0 {
            tracing::debug!(series = dropped, "Series dropped by mapping rules; not kept.");
        }
        Ok(self.push_state(window))
    }

    fn encode_spooled(&mut self, window: &Window, position: Position) -> Result<Vec<Encoded<Push>>, SendError> {
        // A window replayed from the spool after a crash may already be in the saved totals
        // (saved before its acknowledgement reached the spool): push the totals as they are.
        if self.state.applied.is_some_and(|applied| applied.spool == position.spool && position.seq <= applied.seq) {
            tracing::info!(
                window = window.id,
                seq = position.seq,
                "Replayed window already in the totals; not added again."
            );
            return Ok(self.push_state(window));
        }
        let pushes = self.encode(window)?;
        self.state.applied = Some(position);
        Ok(pushes)
    }

    fn take_left_out(&mut self) -> u64 {
        self.conflicts.take()
    }

    async fn send(&mut self, push: &Push) -> Result<(), SendError> {
        let content_type = match self.format {
            Format::Protobuf => PROTOBUF_CONTENT_TYPE,
            Format::Text => TEXT_CONTENT_TYPE,
        };
        // PUT replaces the group: an expired series leaves it, and a retry is idempotent.
        let request =
            self.request(reqwest::Method::PUT).header(header::CONTENT_TYPE, content_type).body(push.body.clone());
        execute(request, Refusal::into_error).await.map(drop)
    }

    fn split(&mut self, batch: Encoded<Push>) -> Halves<Push> {
        // A half would replace the whole group with half of it.
        Err(batch)
    }

    fn delivered(&mut self, window: &Window) {
        // The totals include this window now; keep them for the next run of the agent.
        if let Err(e) = self.state.save(&self.state_path) {
            tracing::error!(
                path = %self.state_path.display(),
                window = window.id,
                error = %e,
                "Cannot save the Pushgateway totals; a restart would reset them."
            );
        }
    }

    async fn close(&mut self) {
        if let Err(e) = self.state.save(&self.state_path) {
            tracing::error!(path = %self.state_path.display(), error = %e, "Cannot save the Pushgateway totals.");
        }
        if !self.delete_on_shutdown {
            return;
        }
        match self.request(reqwest::Method::DELETE).send().await {
            Ok(response) if response.status().is_success() => {
                tracing::info!(url = %self.group_url, "Deleted the group from the Pushgateway.");
            }
            Ok(response) => {
                let refused = refusal(response).await;
                tracing::error!(
                    url = %self.group_url,
                    status = refused.status,
                    body = %refused.body_start(),
                    "Pushgateway refused to delete the group."
                );
            }
            Err(e) => {
                tracing::error!(url = %self.group_url, error = %from_reqwest(&e), "Cannot delete the group from the Pushgateway.");
            }
        }
    }
}
