//! The spool's window codec on arbitrary bytes, and on arbitrary windows.

use crate::delivery::spool::{decode, encode, peek};
use crate::model::{Value, Window};
use crate::sketch::Sketch;

use super::window::arbitrary_window;

/// Decodes `bytes` as a spooled window's payload. A payload that decodes must be the one
/// encoding of its window (re-encoding gives the same bytes), agree with what `peek` reads,
/// and be usable as the queue and the backends use a replayed window. Returns whether the
/// payload decoded.
pub fn spool_decode(bytes: &[u8]) -> bool {
    let peeked = peek(bytes);
    let Ok(window) = decode(bytes) else {
        return false;
    };
    let meta = peeked.expect("peek reads any payload decode reads");
    assert_eq!(meta.end_ms, window.end_ms);
    assert_eq!(meta.series, window.series.len() as u64);
    let mut again = Vec::with_capacity(bytes.len());
    encode(&window, &mut again);
    assert!(again == bytes, "re-encoding a decoded window gives the bytes it came from");
    use_window(&window);
    true
}

/// Builds a window from `bytes` (any window the model can hold: any strings, NaN and
/// infinite floats, sketches fed arbitrary values) and checks it survives the spool: encode,
/// decode and encode again give the same bytes, and `peek` agrees.
pub fn spool_round_trip(bytes: &[u8]) {
    let window = arbitrary_window(bytes);
    let mut encoded = Vec::new();
    encode(&window, &mut encoded);
    let decoded = decode(&encoded).expect("an encoded window decodes");
    let mut again = Vec::with_capacity(encoded.len());
    encode(&decoded, &mut again);
    assert!(again == encoded, "a window survives the spool field for field, bit for bit");
    let meta = peek(&encoded).expect("peek reads an encoded window");
    assert_eq!((meta.end_ms, meta.series), (window.end_ms, window.series.len() as u64));
    use_window(&decoded);
}

/// What the queue and the backends ask of a replayed window: its size for the buffer budget,
/// its interval, and each sketch's bins and quantiles (also merged, as a distribution is).
fn use_window(window: &Window) {
    let _ = window.approx_bytes();
    for series in &window.series {
        if let Value::Summary(summary) = &series.value {
            let sketch = &summary.sketch;
            let _ = (sketch.bin_count(), summary.mean());
            for q in [0.0, 0.5, 0.99, 1.0] {
                let _ = sketch.quantile(q);
            }
            let mut merged = Sketch::new();
            merged.merge(sketch);
            merged.merge(sketch);
            let _ = merged.quantile(0.5);
        }
    }
}
