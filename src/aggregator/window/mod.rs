//! The pure window state: samples in, one [`Window`] out per flush. No tokio, no clock, no
//! wire format: the aggregator task owns a [`WindowState`], feeds it typed samples
//! ([`WindowState::insert_sample`]) and StatsD datagrams (`WindowState::ingest`, which the
//! StatsD source defines next to its parser and which folds each parsed line in place), and
//! calls [`WindowState::flush`] on its tick.
//!
//! # Semantics (per window)
//!
//! | type | state | emitted |
//! | --- | --- | --- |
//! | `c` | Σ value / rate | `Counter { sum, rate: sum / window seconds }` when updated |
//! | `g` | last value; `+N`/`-N` deltas applied in arrival order, from 0 for a new gauge | `Gauge` every window until the series expires |
//! | `ms` `h` `d` | count and sum weighted by 1 / rate, min, max, a [`Sketch`] (the first 16 samples kept raw until there are more, or the flush), exact bucket counts | `Summary` when updated |
//! | `s` | 64-bit hashes of distinct members, at most [`MAX_SET_MEMBERS`] per window | `Set` when updated |
//!
//! # Identity
//!
//! A series is its name and its sorted, de-duplicated tags ([`SeriesKey`]). The container id
//! and the `|T` timestamp of a line are not part of it: a timestamped sample is folded into the
//! open window. The StatsD type is **not** part of the identity either: the first type seen for
//! a series owns it until the series expires, and a line of another type for the same name and
//! tags is refused and counted as [`DropReason::TypeConflict`]. Backends never see two series
//! with one key and two types (Prometheus, InfluxDB and Datadog would reject or mix them).
//!
//! # Bounds
//!
//! At most `max_series` live series; a line that would create one more is refused and its
//! samples counted as [`DropReason::MaxSeries`]. A series not updated for
//! `expire_after_windows` consecutive windows is removed at that flush (a gauge is re-emitted
//! in each idle window before that), which frees its slot. Events and service checks are kept
//! up to [`MAX_EVENTS_PER_WINDOW`] and [`MAX_SERVICE_CHECKS_PER_WINDOW`] per window.
//!
//! # Cost
//!
//! A line for a series already seen allocates nothing: the tags are sorted in a stack array,
//! hashed with the name, and looked up in a [`HashTable`] that compares against the stored
//! key. Memory is allocated only when a series is created (and by sketches and sets as they
//! grow, within their bounds).
//!
//! [`HashTable`]: hashbrown::HashTable
//! [`SeriesKey`]: backends::SeriesKey
//! [`Sketch`]: backends::Sketch
//! [`Window`]: backends::Window

mod counts;
mod fold;
mod key;
mod series;
mod settings;
mod state;

#[cfg(test)]
mod alloc_counter;
#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;

pub use counts::{DatagramCounts, DropReason, IngestCounts, PARSE_ERROR_REASONS};
pub use key::series_hash;
pub use settings::{MAX_EVENTS_PER_WINDOW, MAX_SERVICE_CHECKS_PER_WINDOW, MAX_SET_MEMBERS, WindowSettings};
pub use state::WindowState;
