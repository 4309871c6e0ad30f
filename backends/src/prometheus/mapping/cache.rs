//! What the rules made of each distinct (name, kind), so a rule set is run once per name and
//! not once per series and window.
//!
//! Bounded: at [`MAX_NAMES`] distinct names the cache is emptied and fills again (a simple
//! clear-on-overflow instead of an LRU: a host with more distinct names than that is churning
//! through them anyway, and each miss costs one pass over the rules).

use std::collections::HashMap;
use std::sync::Arc;

use super::config::MetricType;
use super::rules::{Mapped, Mappings};

/// Most distinct names the cache holds before it starts over.
pub(crate) const MAX_NAMES: usize = 100_000;

/// One kind's answer for a name.
#[derive(Debug, Clone, Default)]
enum Slot {
    /// Not asked yet.
    #[default]
    Unknown,
    /// No rule matches: the default translation.
    Unmatched,
    /// The first matching rule's result.
    Mapped(Arc<Mapped>),
}

/// The cached answers, by StatsD name, one slot per kind.
#[derive(Debug)]
pub(crate) struct Cache {
    names: HashMap<Box<str>, [Slot; 7]>,
    capacity: usize,
    /// How often the cache was emptied because it was full.
    pub(crate) clears: u64,
}

impl Default for Cache {
    fn default() -> Self {
        Self::with_capacity(MAX_NAMES)
    }
}

impl Cache {
    /// A cache of at most `capacity` names.
    pub(crate) fn with_capacity(capacity: usize) -> Self {
        Self { names: HashMap::new(), capacity: capacity.max(1), clears: 0 }
    }

    /// The names held now.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.names.len()
    }

    /// What `rules` make of `name` of kind `kind`, from the cache when asked before.
    pub(crate) fn get(&mut self, rules: &Mappings, name: &str, kind: MetricType) -> Option<Arc<Mapped>> {
        if rules.is_empty() {
            return None;
        }
        if let Some(slots) = self.names.get(name) {
            match &slots[kind.slot()] {
                Slot::Unknown => {}
                Slot::Unmatched => return None,
                Slot::Mapped(m) => return Some(m.clone()),
            }
        }
        let answer = rules.map(name, kind).map(Arc::new);
        if !self.names.contains_key(name) && self.names.len() >= self.capacity {
            self.names.clear();
            self.clears += 1;
        }
        let slots = self.names.entry(name.into()).or_default();
        slots[kind.slot()] = answer.clone().map_or(Slot::Unmatched, Slot::Mapped);
        answer
    }
}
