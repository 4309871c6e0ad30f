//! [`ParseError`]: why a line was rejected.

/// Why a line was rejected; one variant per distinct mistake, counted by the agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ParseError {
    /// The line is longer than [`MAX_LINE_BYTES`](super::MAX_LINE_BYTES).
    LineTooLong,
    /// The name, a tag, a title or another text field is not valid UTF-8.
    InvalidUtf8,
    /// Nothing before the `:`.
    EmptyName,
    /// No `:` before the first `|`, or nothing between them (`name|c`, `name:|c`).
    MissingValue,
    /// No `|type` after the value, or an empty type.
    MissingType,
    /// A type other than `c g ms h d s`.
    UnknownType,
    /// A value (or one of several packed values) is not a number.
    BadValue,
    /// A value is NaN or infinite, or overflows `f64`.
    NonFiniteValue,
    /// `@rate` is not a number with `0 < rate ≤ 1`.
    BadSampleRate,
    /// Two `|` with nothing between them, or a trailing `|`.
    EmptyField,
    /// An extension field (`@`, `#`, `c:`, `T`) given twice.
    DuplicateField,
    /// More than [`MAX_TAGS`](super::MAX_TAGS) tags.
    TooManyTags,
    /// `|c:` is empty, longer than [`MAX_CONTAINER_ID_BYTES`](super::MAX_CONTAINER_ID_BYTES), or
    /// holds a byte outside printable ASCII.
    BadContainer,
    /// `|T` is not a non-negative integer number of seconds that fits `i64`.
    BadTimestamp,
    /// A malformed `_e{…}` event.
    BadEvent,
    /// A malformed `_sc|…` service check.
    BadServiceCheck,
}

impl ParseError {
    /// Number of reasons.
    pub const COUNT: usize = 16;

    /// Every reason, in [`ParseError::index`] order.
    pub const ALL: [ParseError; Self::COUNT] = [
        Self::LineTooLong,
        Self::InvalidUtf8,
        Self::EmptyName,
        Self::MissingValue,
        Self::MissingType,
        Self::UnknownType,
        Self::BadValue,
        Self::NonFiniteValue,
        Self::BadSampleRate,
        Self::EmptyField,
        Self::DuplicateField,
        Self::TooManyTags,
        Self::BadContainer,
        Self::BadTimestamp,
        Self::BadEvent,
        Self::BadServiceCheck,
    ];

    /// The `reason` label, in `snake_case`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::LineTooLong => "line_too_long",
            Self::InvalidUtf8 => "invalid_utf8",
            Self::EmptyName => "empty_name",
            Self::MissingValue => "missing_value",
            Self::MissingType => "missing_type",
            Self::UnknownType => "unknown_type",
            Self::BadValue => "bad_value",
            Self::NonFiniteValue => "non_finite_value",
            Self::BadSampleRate => "bad_sample_rate",
            Self::EmptyField => "empty_field",
            Self::DuplicateField => "duplicate_field",
            Self::TooManyTags => "too_many_tags",
            Self::BadContainer => "bad_container",
            Self::BadTimestamp => "bad_timestamp",
            Self::BadEvent => "bad_event",
            Self::BadServiceCheck => "bad_service_check",
        }
    }

    /// The position of this reason in [`ParseError::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }

    /// Every label, in [`ParseError::index`] order (for a counter family).
    pub const LABELS: [&'static str; Self::COUNT] = crate::telemetry::labels!(Self::ALL, Self::COUNT);
}

impl std::fmt::Display for ParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::error::Error for ParseError {}
