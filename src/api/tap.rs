//! `GET /tap[?match=SUBSTRING]`: every window as the agent flushes it, one JSON line each
//! (the file sink's form), until the client hangs up or the agent stops.
//!
//! A client that reads too slowly loses the oldest windows and gets `{"missed":N}` in their
//! place; the aggregator never waits for it (see [`crate::tap`]). `match` (URL-encoded) keeps
//! the series whose name contains it; the filtering happens here, so a narrow tap on a large
//! agent carries only what it asked for.

use std::convert::Infallible;
use std::sync::Arc;

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::{StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use futures_util::Stream;
use serde_json::json;
use tokio::sync::broadcast::{Receiver, error::RecvError};

use crate::tap::{Subscriptions, missed_line, window_line};
use backends::Window;

/// Streams every window flushed from now on, as newline-delimited JSON.
pub async fn tap(State(taps): State<Subscriptions>, uri: Uri) -> Response {
    let Some(windows) = taps.subscribe() else {
        let reason = json!({ "error": "the agent is shutting down" });
        return (StatusCode::SERVICE_UNAVAILABLE, Json(reason)).into_response();
    };
    let pattern = uri.query().and_then(match_param).filter(|p| !p.is_empty()).map(Arc::<str>::from);
    tracing::debug!(pattern = pattern.as_deref().unwrap_or(""), "Tap opened.");
    let body = Body::from_stream(lines(windows, pattern));
    ([(header::CONTENT_TYPE, "application/x-ndjson")], body).into_response()
}

/// The tap's lines: a window, or how many windows this client missed.
fn lines(windows: Receiver<Arc<Window>>, pattern: Option<Arc<str>>) -> impl Stream<Item = Result<Vec<u8>, Infallible>> {
    futures_util::stream::unfold(windows, move |mut windows| {
        let pattern = pattern.clone();
        async move {
            loop {
                let window = match windows.recv().await {
                    Ok(window) => window,
                    Err(RecvError::Lagged(missed)) => return Some((Ok(missed_line(missed)), windows)),
                    // The aggregator stopped after its final window: the tap ends.
                    Err(RecvError::Closed) => return None,
                };
                // Encoding a large window takes a while: off the async workers, which also run
                // the aggregator.
                let pattern = pattern.clone();
                let encoded = tokio::task::spawn_blocking(move || window_line(&window, pattern.as_deref())).await;
                match encoded {
                    Ok(Ok(line)) => return Some((Ok(line), windows)),
                    Ok(Err(e)) => tracing::warn!(error = %e, "Cannot encode a window for the tap; skipped."),
                    Err(e) => tracing::warn!(error = %e, "The tap's encoder failed; window skipped."),
                }
            }
        }
    })
}

/// The value of `match` in a URL-encoded query string (`+` is a space, `%XX` a byte).
fn match_param(query: &str) -> Option<String> {
    query.split('&').find_map(|pair| {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        (decode(key) == "match").then(|| decode(value))
    })
}

fn decode(text: &str) -> String {
    percent_encoding::percent_decode_str(&text.replace('+', " ")).decode_utf8_lossy().into_owned()
}

#[cfg(test)]
mod tests {
    use super::match_param;

    /// `match` is read from a URL-encoded query among other parameters; absent is `None`.
    #[test]
    fn the_match_parameter_is_url_decoded() {
        assert_eq!(match_param("match=app.hits").as_deref(), Some("app.hits"));
        assert_eq!(match_param("x=1&match=a%2Fb%7Bc%7D+d&y=2").as_deref(), Some("a/b{c} d"));
        assert_eq!(match_param("matches=1"), None);
        assert_eq!(match_param("match").as_deref(), Some(""));
    }
}
