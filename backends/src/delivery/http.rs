//! The one HTTP client every network backend shares, and the classification of responses
//! into [`SendError`]s.

use std::time::{Duration, SystemTime};

pub use reqwest::Client;
use reqwest::{RequestBuilder, Response, StatusCode, header};

use crate::backend::SendError;

/// Bytes of an error response kept for the log and `/status`.
const ERROR_BODY_BYTES: usize = 1024;
/// Time to establish a connection; a backend's own `timeout` bounds the whole request.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Idle connections kept per host, to reuse them across windows.
const IDLE_PER_HOST: usize = 4;

/// Builds the shared client: rustls with the ring provider and the platform's roots, a
/// connect timeout, connection reuse. Responses are not decompressed: backends read only
/// small error bodies.
pub fn client() -> Result<Client, reqwest::Error> {
    // Installing the process-wide provider fails only when one is installed already.
    let _ = rustls::crypto::ring::default_provider().install_default();
    Client::builder()
        .user_agent(concat!("sluice/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(CONNECT_TIMEOUT)
        .pool_max_idle_per_host(IDLE_PER_HOST)
        .build()
}

/// Sends `request` and returns the response when its status is a success; otherwise the
/// status, the start of the body and `Retry-After` as a [`SendError::Http`].
pub async fn execute(request: RequestBuilder) -> Result<Response, SendError> {
    let response = request.send().await.map_err(|e| from_reqwest(&e))?;
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    let retry_after = response.headers().get(header::RETRY_AFTER).and_then(|v| v.to_str().ok()).and_then(retry_after);
    let body = error_body(response).await;
    Err(SendError::Http { status: status.as_u16(), body, retry_after })
}

/// The start of a response body as text, for logs.
pub async fn error_body(response: Response) -> String {
    match response.bytes().await {
        Ok(bytes) => {
            let cut = bytes.len().min(ERROR_BODY_BYTES);
            String::from_utf8_lossy(&bytes[..cut]).trim().to_owned()
        }
        Err(e) => format!("(body unreadable: {e})"),
    }
}

/// Maps a transport error: timeouts and connection failures are retriable, a request that
/// could not even be built is not.
pub fn from_reqwest(err: &reqwest::Error) -> SendError {
    if err.is_timeout() {
        SendError::Timeout
    } else if err.is_builder() {
        SendError::Rejected(err.to_string())
    } else {
        // Walk the sources: "error sending request" alone does not tell an operator much.
        let mut message = err.to_string();
        let mut source = std::error::Error::source(err);
        while let Some(s) = source {
            message.push_str(": ");
            message.push_str(&s.to_string());
            source = s.source();
        }
        SendError::Connect(message)
    }
}

/// Parses `Retry-After`: delay seconds or an HTTP date.
pub fn retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = httpdate::parse_http_date(value).ok()?;
    Some(when.duration_since(SystemTime::now()).unwrap_or(Duration::ZERO))
}

/// True for the statuses [`SendError::is_retriable`] retries.
pub fn is_retriable_status(status: StatusCode) -> bool {
    matches!(status.as_u16(), 408 | 429 | 500..=599)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `Retry-After` is read as delay seconds or as an HTTP date; garbage is ignored.
    #[test]
    fn retry_after_reads_seconds_and_http_dates() {
        assert_eq!(retry_after("7"), Some(Duration::from_secs(7)));
        assert_eq!(retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), Some(Duration::ZERO));
        let later = httpdate::fmt_http_date(SystemTime::now() + Duration::from_mins(2));
        let wait = retry_after(&later).unwrap();
        assert!(wait > Duration::from_secs(110) && wait <= Duration::from_mins(2), "{wait:?}");
        assert_eq!(retry_after("soon"), None);
    }

    /// 408, 429 and 5xx are retried; every other 4xx is not.
    #[test]
    fn only_408_429_and_5xx_are_retriable() {
        for code in [408, 429, 500, 502, 503, 504] {
            assert!(is_retriable_status(StatusCode::from_u16(code).unwrap()), "{code}");
        }
        for code in [400, 401, 403, 404, 413, 422] {
            assert!(!is_retriable_status(StatusCode::from_u16(code).unwrap()), "{code}");
        }
    }
}
