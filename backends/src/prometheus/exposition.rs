//! What the outputs that expose the whole current state after every window share (the scrape
//! endpoint and the textfile): the encoder with its mapping rules, the cumulative totals and
//! their file in `data_dir`, the gauges kept until they expire, and the conflict handling.
//! Each output only adds where the rendered families go.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::conflicts::Conflicts;
use super::cumulative::{State, StateError};
use super::families::Families;
use super::gauges::Gauges;
use super::translate::Encoder;
use crate::delivery::Position;
use crate::model::Window;

/// How an [`Exposition`] is set up.
#[derive(Debug)]
pub(crate) struct Settings<'a> {
    /// The output's `type`, naming its state file (`<type>-<sink>.json`) and its log lines.
    pub kind: &'static str,
    /// The sink's name.
    pub name: &'a str,
    /// `[agent] data_dir`.
    pub data_dir: &'a Path,
    /// The sink's `buckets`.
    pub buckets: Vec<f64>,
    /// The sink's `expire_after`.
    pub expire_after: Duration,
    /// True to keep, per family, only the series with the label names it was first served
    /// with (a scrape endpoint); false to write every series (`node_exporter`'s textfile
    /// collector fills missing labels in itself).
    pub consistent_labels: bool,
    /// The encoder, with the agent's mapping rules.
    pub encoder: Encoder,
}

/// The whole current state of one exposing output (see the module docs).
#[derive(Debug)]
pub(crate) struct Exposition {
    kind: &'static str,
    encoder: Encoder,
    state: State,
    state_path: PathBuf,
    gauges: Gauges,
    conflicts: Conflicts,
    expire_after: Duration,
    consistent_labels: bool,
}

impl Exposition {
    /// Loads the totals the sink saved in `data_dir`, if any; an unreadable state file is an
    /// error, so a start never silently loses totals.
    pub(crate) fn open(settings: Settings<'_>) -> Result<Self, StateError> {
        let state_path = settings.data_dir.join(format!("{}-{}.json", settings.kind, settings.name));
        let state = State::load(&state_path, settings.buckets)?;
        Ok(Self {
            kind: settings.kind,
            encoder: settings.encoder,
            state,
            state_path,
            gauges: Gauges::default(),
            conflicts: Conflicts::default(),
            expire_after: settings.expire_after,
            consistent_labels: settings.consistent_labels,
        })
    }

    /// Reads the totals again, as the sink this one replaces (a reload) saved them when it
    /// stopped; on failure keeps those read at build.
    pub(crate) fn reload(&mut self) {
        match State::load(&self.state_path, self.state.bounds.clone()) {
            Ok(state) => self.state = state,
            Err(e) => tracing::error!(
                output = self.kind,
                path = %self.state_path.display(),
                error = %e,
                "Cannot read the totals again; continuing from those read at build."
            ),
        }
    }

    /// Adds `window` to the totals once (a window replayed from the disk spool at or before
    /// the position the totals record is already in them), forgetting totals idle for their
    /// `expire_after`, and takes its gauges.
    pub(crate) fn advance(&mut self, window: &Window, position: Option<Position>) {
        let counted = position
            .zip(self.state.applied)
            .is_some_and(|(at, applied)| at.spool == applied.spool && at.seq <= applied.seq);
        if counted {
            tracing::info!(
                output = self.kind,
                window = window.id,
                "Replayed window already in the totals; not added again."
            );
        } else {
            let dropped = self.encoder.advance(&mut self.state, window, Some(self.expire_after));
            if dropped > 0 {
                tracing::debug!(output = self.kind, series = dropped, "Series dropped by mapping rules; not kept.");
            }
            if position.is_some() {
                self.state.applied = position;
            }
        }
        self.gauges.update(window, &self.encoder, self.expire_after);
    }

    /// Every series to expose after `window` (which [`Exposition::advance`] took): the kept
    /// gauges and every total, with conflicting series left out (logged once per family,
    /// counted for [`Exposition::take_left_out`]).
    pub(crate) fn families(&mut self, window: &Window) -> Families {
        let (mut families, dropped) = self.encoder.families_with_gauges(window, self.gauges.sorted(), &self.state);
        self.conflicts.record(&dropped);
        if self.consistent_labels {
            self.conflicts.keep_label_names(&mut families);
        }
        families
    }

    /// Series left out since the last call.
    pub(crate) fn take_left_out(&mut self) -> u64 {
        self.conflicts.take()
    }

    /// Writes the totals to the state file, if they changed; a failure is logged (a restart
    /// would then start from the totals saved before).
    pub(crate) fn save(&mut self) {
        if let Err(e) = self.state.save(&self.state_path) {
            tracing::error!(
                output = self.kind,
                path = %self.state_path.display(),
                error = %e,
                "Cannot save the totals; a restart would go back to those saved before."
            );
        }
    }

    /// The kept gauges, for tests.
    #[cfg(test)]
    pub(crate) fn gauges(&self) -> &Gauges {
        &self.gauges
    }
}
