//! Windows and series keys the library tests build, shared so each backend's tests read alike.

use std::sync::Arc;

use backends::{Series, SeriesKey, Window};

/// A series key named `name` with `tags` (`k:v` or bare), hash 0.
pub fn key(name: &str, tags: &[&str]) -> Arc<SeriesKey> {
    Arc::new(SeriesKey { name: name.into(), tags: tags.iter().map(|t| (*t).into()).collect(), hash: 0 })
}

/// A 10-second window ending `end_ms` with `series`, host `web-1`, agent tag `env:test`.
pub fn window(id: u64, end_ms: u64, series: Vec<Series>) -> Arc<Window> {
    Arc::new(Window {
        id,
        start_ms: end_ms - 10_000,
        end_ms,
        hostname: "web-1".into(),
        tags: Arc::new(["env:test".into()]),
        series,
        events: Vec::new(),
        service_checks: Vec::new(),
    })
}
