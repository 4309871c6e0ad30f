//! What an output does with the series [`Encoder::families`](super::Encoder::families) left
//! out, and, for a scrape endpoint, with families whose metrics carry different label names:
//! keep the first, leave the others out, log each family once, count every left-out series.

use std::collections::{HashMap, HashSet};

use super::families::{Families, Labels};
use super::translate::Dropped;

/// Most family names remembered as logged. Beyond it one more warning says that further
/// names go unlogged, so a stream of ever new conflicting names cannot grow memory.
const MAX_REPORTED: usize = 10_000;

/// The conflicts one Prometheus output met: which families were logged, which label names each
/// family is served with, and how many series were left out since the delivery task last asked
/// ([`Conflicts::take`]).
#[derive(Debug, Default)]
pub(crate) struct Conflicts {
    /// Family names already logged, so each is logged once per run.
    reported: HashSet<String>,
    /// True once [`MAX_REPORTED`] names were logged and that was said.
    reported_full: bool,
    /// The label names each family was first served with, for [`Conflicts::keep_label_names`].
    label_names: HashMap<String, Vec<String>>,
    /// Series left out and not yet counted by the delivery task.
    left_out: u64,
}

impl Conflicts {
    /// Notes what one encoding left out: logs each family not logged before, counts the series.
    /// Series a mapping rule dropped are no conflict and are not counted here.
    pub(crate) fn record(&mut self, dropped: &Dropped) {
        self.left_out += dropped.series;
        for name in &dropped.names {
            if self.first_report(name) {
                tracing::warn!(
                    family = %name,
                    "Metric name collides with another of a different type (a histogram's _bucket/_sum/_count, or a counter's name without _total, included); left out."
                );
            }
        }
    }

    /// Keeps, in each family, only the metrics with the label names the family was first
    /// served with (or, for a family new to this output, those of its first metric in label
    /// order), and leaves out the others, counted and logged once per family. A scraper
    /// should not have to guess which label set a family has, and `statsd_exporter` refuses
    /// such series too. What it remembers is pruned to the families present, so it is bounded
    /// by them.
    pub(crate) fn keep_label_names(&mut self, families: &mut Families) {
        self.label_names.retain(|name, _| families.contains_key(name));
        for (name, family) in families.iter_mut() {
            let remembered = self
                .label_names
                .get(name)
                .filter(|names| family.metrics.keys().any(|labels| same_names(labels, names)));
            let names: Vec<String> = match remembered {
                Some(names) => names.clone(),
                None => match family.metrics.keys().next() {
                    Some(first) => first.iter().map(|(k, _)| k.clone()).collect(),
                    None => continue,
                },
            };
            let before = family.metrics.len();
            family.metrics.retain(|labels, _| same_names(labels, &names));
            let removed = (before - family.metrics.len()) as u64;
            if removed > 0 {
                self.left_out += removed;
                if self.first_report(name) {
                    tracing::warn!(
                        family = %name,
                        labels = %names.join(","),
                        "Series of this family have other label names than those it is served with; left out."
                    );
                }
            }
            self.label_names.insert(name.clone(), names);
        }
    }

    /// The series left out since the last call, for `sluice_backend_dropped_series_total`.
    pub(crate) fn take(&mut self) -> u64 {
        std::mem::take(&mut self.left_out)
    }

    /// True when `name` has not been logged yet (and now counts as logged).
    fn first_report(&mut self, name: &str) -> bool {
        if self.reported.contains(name) {
            return false;
        }
        if self.reported.len() >= MAX_REPORTED {
            if !self.reported_full {
                self.reported_full = true;
                tracing::warn!(
                    families = MAX_REPORTED,
                    "So many conflicting families were logged that further ones are only counted."
                );
            }
            return false;
        }
        self.reported.insert(name.to_owned());
        true
    }
}

/// True when `labels` has exactly the label names `names`, in order.
fn same_names(labels: &Labels, names: &[String]) -> bool {
    labels.iter().map(|(k, _)| k).eq(names.iter())
}
