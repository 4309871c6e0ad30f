//! What ingest counts: accepted lines and samples, parse errors by reason, and refused samples
//! by reason.

/// Room for every reason a decoder counts malformed input by (the StatsD parser has fewer);
/// [`IngestCounts::parse_errors`] is indexed by the decoder's own reason index.
pub const PARSE_ERROR_REASONS: usize = 16;

/// Why samples (or events) were refused after parsing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DropReason {
    /// The line would have created a series beyond `max_series`.
    MaxSeries,
    /// The series exists with another kind (another StatsD type).
    TypeConflict,
    /// A set already counts [`MAX_SET_MEMBERS`](super::MAX_SET_MEMBERS) distinct members this
    /// window.
    SetMembers,
    /// [`MAX_EVENTS_PER_WINDOW`](super::MAX_EVENTS_PER_WINDOW) events were already kept this
    /// window.
    Events,
    /// [`MAX_SERVICE_CHECKS_PER_WINDOW`](super::MAX_SERVICE_CHECKS_PER_WINDOW) service checks were
    /// already kept this window.
    ServiceChecks,
}

impl DropReason {
    /// Number of reasons.
    pub const COUNT: usize = 5;

    /// Every reason, in [`DropReason::index`] order.
    pub const ALL: [DropReason; Self::COUNT] =
        [Self::MaxSeries, Self::TypeConflict, Self::SetMembers, Self::Events, Self::ServiceChecks];

    /// Every label, in [`DropReason::index`] order (for a counter family).
    pub const LABELS: [&'static str; Self::COUNT] = crate::telemetry::labels!(Self::ALL, Self::COUNT);

    /// The `reason` label, in `snake_case`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::MaxSeries => "max_series",
            Self::TypeConflict => "type_conflict",
            Self::SetMembers => "set_members",
            Self::Events => "events",
            Self::ServiceChecks => "service_checks",
        }
    }

    /// The position of this reason in [`DropReason::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }
}

/// Counts accumulated by [`WindowState::ingest`] since the last [`WindowState::take_counts`].
///
/// [`WindowState::ingest`]: super::WindowState::ingest
/// [`WindowState::take_counts`]: super::WindowState::take_counts
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IngestCounts {
    /// Valid lines: metrics, events and service checks (whether kept or dropped later).
    pub lines: u64,
    /// Malformed lines, indexed by the decoder's reason (for StatsD, `ParseError::index`).
    pub parse_errors: [u64; PARSE_ERROR_REASONS],
    /// Refused samples (or events), indexed by [`DropReason::index`].
    pub dropped: [u64; DropReason::COUNT],
    /// Events received (kept or dropped).
    pub events: u64,
    /// Service checks received (kept or dropped).
    pub service_checks: u64,
    /// Explicit-bucket histograms whose bounds changed within a window that already held
    /// observations (moved into the new bounds, none lost).
    pub rebucketed: u64,
}

impl IngestCounts {
    /// Malformed lines, all reasons together.
    pub fn parse_error_total(&self) -> u64 {
        self.parse_errors.iter().sum()
    }
}

/// Lines of one datagram, for the listener's `lines` counter.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DatagramCounts {
    /// Non-empty lines, valid or not.
    pub lines: u64,
    /// Of those, lines rejected by the parser.
    pub errors: u64,
}
