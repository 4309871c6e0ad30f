//! The one HTTP client every network backend shares, and the classification of responses
//! into [`SendError`]s.

use std::time::{Duration, SystemTime};

pub use reqwest::Client;
use reqwest::header::{self, HeaderMap};
use reqwest::{RequestBuilder, Response};

use crate::backend::SendError;

/// Bytes of an error response kept for the log and `/status`.
const ERROR_BODY_BYTES: usize = 1024;
/// Bytes of an error response read at most: enough for InfluxDB to list every point of a
/// 5000-line batch it dropped, bounded so a misbehaving server cannot grow memory.
pub const READ_BODY_BYTES: usize = 64 << 10;
/// Time to establish a connection; a backend's own `timeout` bounds the whole request.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Idle connections kept per host, to reuse them across windows.
const IDLE_PER_HOST: usize = 4;

/// Builds the shared client: rustls with the ring provider and the platform's roots, a
/// connect timeout, connection reuse. Responses are not decompressed: backends read only
/// small error bodies.
pub fn client() -> Result<Client, reqwest::Error> {
    builder().build()
}

/// A client like [`client`] that also trusts the CA certificates `roots`, for a backend
/// behind a private CA: its own client, so no other backend trusts them.
pub fn client_trusting(roots: Vec<reqwest::Certificate>) -> Result<Client, reqwest::Error> {
    builder().tls_certs_merge(roots).build()
}

fn builder() -> reqwest::ClientBuilder {
    // Installing the process-wide provider fails only when one is installed already.
    let _ = rustls::crypto::ring::default_provider().install_default();
    Client::builder()
        .user_agent(concat!("sluice/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(CONNECT_TIMEOUT)
        .pool_max_idle_per_host(IDLE_PER_HOST)
}

/// A response with a non-success status, as every HTTP backend classifies it: the status,
/// the wait the server asked for, its headers, and the start of its body.
#[derive(Debug)]
pub struct Refusal {
    /// The status code.
    pub status: u16,
    /// `Retry-After`, as delay seconds or an HTTP date.
    pub retry_after: Option<Duration>,
    /// The response headers, for backend-specific hints (Datadog's rate-limit reset).
    pub headers: HeaderMap,
    /// Up to [`READ_BODY_BYTES`] of the body as text, for backends that parse it
    /// (InfluxDB's partial write, AWS error codes).
    pub body: String,
}

impl Refusal {
    /// The start of the body, as kept in logs and `/status`.
    pub fn body_start(&self) -> String {
        let mut end = self.body.len().min(ERROR_BODY_BYTES);
        while !self.body.is_char_boundary(end) {
            end -= 1;
        }
        self.body[..end].trim().to_owned()
    }

    /// The error when the backend has nothing more specific to say: [`SendError::Http`],
    /// retried for 408, 429 and 5xx only ([`SendError::is_retriable`]).
    pub fn into_error(self) -> SendError {
        SendError::Http { status: self.status, body: self.body_start(), retry_after: self.retry_after }
    }
}

/// Sends `request` and returns the response when its status is a success. A transport
/// failure becomes a retriable [`SendError`] ([`from_reqwest`]); any other status a
/// [`Refusal`] that `classify` turns into the error (most backends pass
/// [`Refusal::into_error`]). Every HTTP backend sends through here.
pub async fn execute(
    request: RequestBuilder,
    classify: impl FnOnce(Refusal) -> SendError,
) -> Result<Response, SendError> {
    let response = request.send().await.map_err(|e| from_reqwest(&e))?;
    if response.status().is_success() {
        return Ok(response);
    }
    Err(classify(refusal(response).await))
}

/// Reads a non-success response into a [`Refusal`], at most [`READ_BODY_BYTES`] of its body.
pub async fn refusal(mut response: Response) -> Refusal {
    let status = response.status().as_u16();
    let headers = std::mem::take(response.headers_mut());
    let retry_after = headers.get(header::RETRY_AFTER).and_then(|v| v.to_str().ok()).and_then(retry_after);
    let mut bytes = Vec::new();
    let body = loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                let room = READ_BODY_BYTES - bytes.len();
                bytes.extend_from_slice(&chunk[..chunk.len().min(room)]);
                if bytes.len() == READ_BODY_BYTES {
                    break String::from_utf8_lossy(&bytes).into_owned();
                }
            }
            Ok(None) => break String::from_utf8_lossy(&bytes).into_owned(),
            Err(e) => break format!("(body unreadable: {e})"),
        }
    };
    Refusal { status, retry_after, headers, body }
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

    /// A refusal keeps the status and `Retry-After`, reads a huge body only up to its bound
    /// and logs only its start; the backend's classifier sees what was read.
    #[tokio::test]
    async fn a_refusal_reads_a_bounded_body_and_keeps_its_start_for_the_log() {
        use axum::http::StatusCode;
        let app = axum::Router::new().route(
            "/",
            axum::routing::post(|| async {
                (StatusCode::SERVICE_UNAVAILABLE, [("retry-after", "7")], "é".repeat(200_000))
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        let mut seen = 0;
        let err = execute(client().unwrap().post(&url), |refused| {
            seen = refused.body.len();
            refused.into_error()
        })
        .await
        .unwrap_err();
        assert!((READ_BODY_BYTES - 4..=READ_BODY_BYTES).contains(&seen), "{seen}");
        let SendError::Http { status, body, retry_after } = err else { panic!("{err:?}") };
        assert_eq!((status, retry_after), (503, Some(Duration::from_secs(7))));
        assert_eq!(body, "é".repeat(ERROR_BODY_BYTES / 2));
    }
}
