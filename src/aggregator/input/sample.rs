//! [`Sample`]: one typed observation, as a source that has its numbers hands it over.

use backends::Buckets;

use super::weighted::Weighted;

/// Most tags one sample may carry; a series key is sorted in a stack buffer of this size.
pub const MAX_TAGS: usize = 64;

/// How a series aggregates: the first kind seen for a series owns it until it expires.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// Summed over the window (a delta).
    Counter,
    /// The last value, kept across windows until the series expires.
    Gauge,
    /// Samples in milliseconds: count, sum, min, max, percentiles, buckets.
    Timer,
    /// Unitless samples, summarised like a timer.
    Histogram,
    /// Unitless samples whose sketch backends merge globally.
    Distribution,
    /// Distinct members.
    Set,
    /// Observations per bucket of explicit bounds, added up exactly.
    Buckets,
}

/// What one sample observed.
#[derive(Debug, Clone, PartialEq)]
pub enum SampleValue {
    /// An increment of a counter, scaled by `1 / rate`.
    Counter(f64),
    /// A gauge's value now; any finite value, negative ones included.
    Gauge(f64),
    /// A move of a gauge by this much (from 0 for a new gauge).
    GaugeDelta(f64),
    /// One timer sample, in milliseconds.
    Timer(f64),
    /// One histogram sample.
    Histogram(f64),
    /// One distribution sample.
    Distribution(f64),
    /// One member of a set, as bytes.
    Set(Box<[u8]>),
    /// An explicit-bucket histogram's observations since the source's previous sample of it
    /// (a delta); its sample rate is ignored.
    Buckets(Box<Buckets>),
    /// Distribution observations reported by bucket (a delta); its sample rate is ignored.
    Weighted(Box<Weighted>),
}

impl SampleValue {
    /// The kind of series this value belongs to.
    pub fn kind(&self) -> Kind {
        match self {
            Self::Counter(_) => Kind::Counter,
            Self::Gauge(_) | Self::GaugeDelta(_) => Kind::Gauge,
            Self::Timer(_) => Kind::Timer,
            Self::Histogram(_) => Kind::Histogram,
            Self::Distribution(_) | Self::Weighted(_) => Kind::Distribution,
            Self::Set(_) => Kind::Set,
            Self::Buckets(_) => Kind::Buckets,
        }
    }

    fn number(&self) -> Option<f64> {
        match self {
            Self::Counter(v)
            | Self::Gauge(v)
            | Self::GaugeDelta(v)
            | Self::Timer(v)
            | Self::Histogram(v)
            | Self::Distribution(v) => Some(*v),
            Self::Set(_) => None,
            // A non-finite one first, so that the check in `Sample::new` sees it.
            Self::Buckets(b) => [b.min, b.max].into_iter().flatten().find(|v| !v.is_finite()).or(Some(b.sum)),
            Self::Weighted(w) => w.non_finite().or(Some(w.sum)),
        }
    }
}

/// Why a sample could not be built; nothing else is lost with it.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SampleError {
    /// The name is empty.
    #[error("a sample needs a non-empty name")]
    EmptyName,
    /// The value is NaN or infinite.
    #[error("sample {name:?} has a non-finite value {value}")]
    NotFinite {
        /// The sample's name.
        name: Box<str>,
        /// The value.
        value: f64,
    },
    /// The sample rate is outside `(0, 1]`.
    #[error("sample {name:?} has sample rate {rate}, outside (0, 1]")]
    BadRate {
        /// The sample's name.
        name: Box<str>,
        /// The rate.
        rate: f64,
    },
    /// An explicit-bucket histogram, or weighted distribution values, the window cannot add up.
    #[error("sample {name:?} is a histogram with {reason}")]
    BadBuckets {
        /// The sample's name.
        name: Box<str>,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// More than [`MAX_TAGS`] tags.
    #[error("sample {name:?} has more than {MAX_TAGS} tags")]
    TooManyTags {
        /// The sample's name.
        name: Box<str>,
    },
}

/// One typed observation: name, tags, value and kind, sample rate and an optional timestamp.
/// Built with [`Sample::new`], which checks what the window relies on, so the window never
/// sees a NaN, a rate of 0 or an unbounded tag list.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    name: Box<str>,
    /// Each `key:value` (or a bare `key`) exactly as given, in any order: commas, pipes and
    /// `#` are kept, since no wire format stands between a typed source and the window.
    tags: Vec<Box<str>>,
    value: SampleValue,
    rate: f64,
    timestamp: Option<i64>,
}

impl Sample {
    /// A sample of `value` for `name` with `tags` (`(key, value)` pairs; an empty value makes a
    /// bare tag), rate 1 and no timestamp.
    pub fn new(name: &str, tags: &[(&str, &str)], value: SampleValue) -> Result<Self, SampleError> {
        if name.is_empty() {
            return Err(SampleError::EmptyName);
        }
        if let Some(v) = value.number().filter(|v| !v.is_finite()) {
            return Err(SampleError::NotFinite { name: name.into(), value: v });
        }
        let problem = match &value {
            SampleValue::Buckets(buckets) => buckets_problem(buckets),
            SampleValue::Weighted(weighted) => weighted.problem(),
            _ => None,
        };
        if let Some(reason) = problem {
            return Err(SampleError::BadBuckets { name: name.into(), reason });
        }
        if tags.len() > MAX_TAGS {
            return Err(SampleError::TooManyTags { name: name.into() });
        }
        let tags = tags
            .iter()
            .map(|(k, v)| if v.is_empty() { Box::from(*k) } else { format!("{k}:{v}").into_boxed_str() })
            .collect();
        Ok(Self { name: name.into(), tags, value, rate: 1.0, timestamp: None })
    }

    /// The same sample taken at `rate` (in `(0, 1]`): counters and summaries weigh it `1 / rate`.
    pub fn with_rate(mut self, rate: f64) -> Result<Self, SampleError> {
        if !(rate > 0.0 && rate <= 1.0) {
            return Err(SampleError::BadRate { name: self.name, rate });
        }
        self.rate = rate;
        Ok(self)
    }

    /// The same sample stamped with the Unix second it was taken. The window folds it into the
    /// open window like a StatsD `|T` line.
    #[must_use]
    pub fn with_timestamp(mut self, unix_seconds: i64) -> Self {
        self.timestamp = Some(unix_seconds);
        self
    }

    /// The metric name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The tags as given, each `key:value` or a bare `key`.
    pub fn tags(&self) -> impl ExactSizeIterator<Item = &str> + Clone {
        self.tags.iter().map(|t| &**t)
    }

    /// What was observed.
    pub fn value(&self) -> &SampleValue {
        &self.value
    }

    /// The sample rate, in `(0, 1]`.
    pub fn rate(&self) -> f64 {
        self.rate
    }

    /// When the sample was taken, in Unix seconds, if the source said.
    pub fn timestamp(&self) -> Option<i64> {
        self.timestamp
    }
}

/// Why the window could not add `buckets` up, if it could not.
fn buckets_problem(buckets: &Buckets) -> Option<&'static str> {
    if buckets.counts.len() != buckets.bounds.len() + 1 {
        Some("not one more count than bounds")
    } else if buckets.bounds.iter().any(|b| !b.is_finite()) {
        Some("a NaN or infinite bound")
    } else if !buckets.bounds.is_sorted_by(|a, b| a < b) {
        Some("bounds not strictly increasing")
    } else if buckets.bounds.len() > MAX_BUCKETS {
        Some("more than 256 bounds")
    } else {
        None
    }
}

/// Most bounds an explicit-bucket histogram may have (OpenTelemetry's SDKs default to 15,
/// Prometheus clients to 11).
pub const MAX_BUCKETS: usize = 256;

#[cfg(test)]
mod tests {
    use super::*;

    /// Tag values keep the characters a StatsD line would have to escape, and gauges keep
    /// their sign.
    #[test]
    fn a_sample_keeps_its_tags_and_sign_exactly() {
        let s = Sample::new("disk", &[("mountpoint", "/mnt/a,b|c#d"), ("ro", "")], SampleValue::Gauge(-2.5)).unwrap();
        assert_eq!(s.tags().collect::<Vec<_>>(), ["mountpoint:/mnt/a,b|c#d", "ro"]);
        assert_eq!(s.value(), &SampleValue::Gauge(-2.5));
        assert_eq!((s.rate(), s.timestamp()), (1.0, None));
    }

    /// What the window cannot fold is refused with the reason.
    #[test]
    fn a_sample_the_window_cannot_fold_is_refused() {
        let nan = Sample::new("x", &[], SampleValue::Counter(f64::NAN));
        assert!(matches!(nan, Err(SampleError::NotFinite { .. })), "{nan:?}");
        assert_eq!(Sample::new("", &[], SampleValue::Gauge(1.0)), Err(SampleError::EmptyName));
        let rate = Sample::new("x", &[], SampleValue::Timer(1.0)).unwrap().with_rate(0.0);
        assert_eq!(rate, Err(SampleError::BadRate { name: "x".into(), rate: 0.0 }));
        let tags = vec![("k", "v"); MAX_TAGS + 1];
        assert_eq!(
            Sample::new("x", &tags, SampleValue::Gauge(1.0)),
            Err(SampleError::TooManyTags { name: "x".into() })
        );
    }
}
