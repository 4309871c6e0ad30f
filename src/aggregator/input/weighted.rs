//! [`Weighted`]: distribution observations a client reported by bucket, not one by one.

/// Observations of a distribution known by the bucket each fell in (an OpenTelemetry
/// exponential histogram): each `(value, weight)` stands for `weight` observations at `value`
/// (the bucket's midpoint), while `count`, `sum`, `min` and `max` are the client's own, exact.
/// The window adds the values to the series' sketch and the totals to its summary.
#[derive(Debug, Clone, PartialEq)]
pub struct Weighted {
    /// `(value, weight)`: a representative value and how many observations it stands for.
    pub values: Vec<(f64, f64)>,
    /// Number of observations: the sum of the weights.
    pub count: f64,
    /// Sum of the observed values, as the client reported it.
    pub sum: f64,
    /// Smallest observed value.
    pub min: f64,
    /// Largest observed value.
    pub max: f64,
}

impl Weighted {
    /// The first non-finite number among the totals and values, or `None`.
    pub(super) fn non_finite(&self) -> Option<f64> {
        [self.count, self.sum, self.min, self.max]
            .into_iter()
            .chain(self.values.iter().flat_map(|&(v, w)| [v, w]))
            .find(|v| !v.is_finite())
    }

    /// Why the window could not add these observations up, if it could not.
    pub(super) fn problem(&self) -> Option<&'static str> {
        if self.values.iter().any(|&(_, w)| w <= 0.0) {
            Some("a weight that is not positive")
        } else if self.values.is_empty() || self.count <= 0.0 {
            Some("no observations")
        } else if (self.values.iter().map(|&(_, w)| w).sum::<f64>() - self.count).abs() > self.count * 1e-9 {
            Some("weights that do not add up to its count")
        } else if self.min > self.max {
            Some("a minimum above its maximum")
        } else {
            None
        }
    }
}
