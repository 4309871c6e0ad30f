//! The quantile sketch's contract: bounded relative error, exact merges, weights, bounded
//! memory.

use backends::Sketch;
use backends::sketch::{MAX_BINS, RELATIVE_ACCURACY};

/// The exact sample at quantile `q` of sorted `values` (the sketch's rank rule: the first
/// sample whose cumulative count exceeds `q · n`).
fn exact(sorted: &[f64], q: f64) -> f64 {
    let rank = (q * sorted.len() as f64).floor() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

fn assert_within(sketch: &Sketch, sorted: &[f64]) {
    for q in [0.0, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.999, 1.0] {
        let got = sketch.quantile(q).unwrap();
        let want = exact(sorted, q);
        let error = ((got - want) / want).abs();
        assert!(error <= RELATIVE_ACCURACY + 1e-12, "q={q}: got {got}, want {want} (error {error})");
    }
}

/// Over values spanning seven orders of magnitude every quantile is within the stated 1 %.
#[test]
fn every_quantile_is_within_the_relative_accuracy() {
    let mut values: Vec<f64> = (1..=20_000).map(|i| 0.001 * 1.000_8_f64.powi(i)).collect();
    let mut sketch = Sketch::new();
    for &v in &values {
        sketch.add(v, 1.0);
    }
    values.sort_by(f64::total_cmp);
    assert_eq!(sketch.count(), 20_000.0);
    assert_within(&sketch, &values);
}

/// Negative values, zero and positive values are all answered within the bound.
#[test]
fn negative_zero_and_positive_values_are_ranked_together() {
    let mut sketch = Sketch::new();
    for v in [-100.0, -10.0, -1.0, 0.0, 1.0, 10.0, 100.0] {
        sketch.add(v, 1.0);
    }
    assert_eq!(sketch.quantile(0.0), Some(sketch.bins().next().unwrap().0));
    assert!((sketch.quantile(0.0).unwrap() + 100.0).abs() <= 1.0);
    assert_eq!(sketch.quantile(0.5), Some(0.0));
    assert!((sketch.quantile(1.0).unwrap() - 100.0).abs() <= 1.0);
}

/// Merging two sketches gives exactly the sketch of all their values.
#[test]
fn merging_equals_sketching_everything_at_once() {
    let (mut a, mut b, mut all) = (Sketch::new(), Sketch::new(), Sketch::new());
    for i in 0..5_000 {
        let v = f64::from(i).mul_add(0.37, 1.0);
        let half = if i % 3 == 0 { &mut a } else { &mut b };
        half.add(v, 1.0);
        all.add(v, 1.0);
    }
    a.merge(&b);
    assert_eq!(a, all);
}

/// A weight counts as that many samples: weight 10 equals ten adds of weight 1.
#[test]
fn a_weight_counts_as_that_many_samples() {
    let (mut weighted, mut repeated) = (Sketch::new(), Sketch::new());
    weighted.add(42.0, 10.0);
    weighted.add(7.0, 2.5);
    for _ in 0..10 {
        repeated.add(42.0, 1.0);
    }
    repeated.add(7.0, 2.5);
    assert_eq!(weighted, repeated);
    assert_eq!(weighted.count(), 12.5);
}

/// Non-finite values and non-positive weights are ignored rather than corrupting the sketch.
#[test]
fn non_finite_values_and_bad_weights_are_ignored() {
    let mut sketch = Sketch::new();
    sketch.add(f64::NAN, 1.0);
    sketch.add(f64::INFINITY, 1.0);
    sketch.add(1.0, 0.0);
    sketch.add(1.0, -1.0);
    sketch.add(1.0, f64::NAN);
    assert!(sketch.is_empty());
    assert_eq!(sketch.quantile(0.5), None);
}

/// Values spanning far more than the bins can cover stay within `MAX_BINS` per sign; the
/// highest quantiles keep their accuracy (the lowest bins are the ones folded).
#[test]
fn memory_stays_bounded_over_any_dynamic_range() {
    let mut sketch = Sketch::new();
    let mut values = Vec::new();
    for e in -300..300 {
        for m in [1.0, 2.5, 5.0, 7.5] {
            let v = m * 10f64.powi(e);
            sketch.add(v, 1.0);
            values.push(v);
        }
    }
    assert!(sketch.bin_count() <= MAX_BINS, "{} bins", sketch.bin_count());
    values.sort_by(f64::total_cmp);
    let top = sketch.quantile(0.99).unwrap();
    let want = exact(&values, 0.99);
    assert!(((top - want) / want).abs() <= RELATIVE_ACCURACY, "{top} vs {want}");
}
