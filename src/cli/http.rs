//! A minimal blocking HTTP/1.0 GET for the commands that read the running agent's API.
//!
//! `sluice status` and `sluice tap` make one request each to an address the operator names,
//! usually on loopback. Asked in HTTP/1.0, the agent answers with a body that ends when the
//! connection closes — no chunked encoding — which is also the natural shape of an endless
//! stream of windows. A std `TcpStream` does that without starting an async runtime or an
//! HTTP client library in the command's path.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use super::locate::{ApiTarget, TOKEN_VARIABLE};

/// How long to wait for the agent to accept the connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// How long to wait for the answer's head, and for each read of a body read whole.
pub const ANSWER_TIMEOUT: Duration = Duration::from_secs(10);

/// Why a request to the agent's API failed.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    /// Nothing accepted the connection (no agent there, or a firewall).
    #[error("cannot connect: {0}")]
    Connect(#[source] io::Error),
    /// The TLS session could not be set up.
    #[error("cannot set up TLS: {0}")]
    Tls(#[source] rustls::Error),
    /// The connection broke, or the agent took longer than [`ANSWER_TIMEOUT`] to answer.
    #[error("no answer to GET {path}: {source}")]
    Read {
        /// The request's path.
        path: String,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
    /// Something answered, but not in HTTP (another service on that port?).
    #[error("the answer to GET {path} is not HTTP: {head:?}")]
    NotHttp {
        /// The request's path.
        path: String,
        /// The first line received.
        head: String,
    },
    /// The agent answered with a status other than 200.
    #[error("GET {path} answered {status}: {body}")]
    Status {
        /// The request's path.
        path: String,
        /// The HTTP status.
        status: u16,
        /// The start of the body, which says why.
        body: String,
    },
    /// The agent's API wants a bearer token (`[api.auth]`).
    #[error(
        "GET {path} answered 401: {hint}; set ${TOKEN_VARIABLE} to one of the tokens, or run as a user who can \
         read the tokens the config names"
    )]
    Unauthorized {
        /// The request's path.
        path: String,
        /// Whether a token was sent.
        hint: &'static str,
    },
}

/// A connection to the agent: plain TCP, or TLS over it.
pub trait Connection: Read + Write + Send {}

impl<T: Read + Write + Send> Connection for T {}

/// An answer with status 200 whose head has been read; the body follows in `body`.
pub struct Answer {
    /// The request's path, for messages.
    pub path: String,
    /// The rest of the connection: the body, until the agent closes it.
    pub body: BufReader<Box<dyn Connection>>,
    /// The TCP socket under it, for its timeouts.
    socket: TcpStream,
}

impl std::fmt::Debug for Answer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Answer").field("path", &self.path).finish_non_exhaustive()
    }
}

/// Sends `GET path` to `addr` and reads the answer's head. Any status but 200 is an error
/// carrying the start of the body.
pub fn get(target: &ApiTarget, path: &str) -> Result<Answer, HttpError> {
    let addr = target.addr;
    let socket = TcpStream::connect_timeout(&addr, CONNECT_TIMEOUT).map_err(HttpError::Connect)?;
    let read = |source| HttpError::Read { path: path.to_owned(), source: timeout_worded(source) };
    socket.set_read_timeout(Some(ANSWER_TIMEOUT)).map_err(read)?;
    let tcp = socket.try_clone().map_err(read)?;
    let mut stream: Box<dyn Connection> = match &target.pinned {
        Some(certificate) => Box::new(super::tls::connect(tcp, addr, certificate).map_err(HttpError::Tls)?),
        None => Box::new(tcp),
    };
    let authorization = match &target.token {
        Some(token) => format!("Authorization: Bearer {}\r\n", token.expose()),
        None => String::new(),
    };
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {addr}\r\nAccept: application/json\r\n{authorization}\r\n")
        .map_err(read)?;
    let mut body = BufReader::new(stream);
    let mut head = String::new();
    body.read_line(&mut head).map_err(read)?;
    let status = parse_status_line(&head)
        .ok_or_else(|| HttpError::NotHttp { path: path.to_owned(), head: head.trim_end().to_owned() })?;
    // The headers say nothing the commands need: an HTTP/1.0 body runs to the close.
    let mut line = String::new();
    loop {
        line.clear();
        if body.read_line(&mut line).map_err(read)? == 0 || line.trim_end().is_empty() {
            break;
        }
    }
    let mut answer = Answer { path: path.to_owned(), body, socket };
    if status != 200 {
        let mut start = String::new();
        let _ = answer.body.by_ref().take(512).read_to_string(&mut start);
        if status == 401 {
            let hint = match target.token {
                Some(_) => "the token sent is not one of [api.auth]'s",
                None => "no token was found to send",
            };
            return Err(HttpError::Unauthorized { path: path.to_owned(), hint });
        }
        return Err(HttpError::Status { path: path.to_owned(), status, body: start.trim().to_owned() });
    }
    Ok(answer)
}

impl Answer {
    /// The whole body, each read within [`ANSWER_TIMEOUT`].
    pub fn text(mut self) -> Result<String, HttpError> {
        let mut text = String::new();
        self.body
            .read_to_string(&mut text)
            .map_err(|source| HttpError::Read { path: self.path.clone(), source: timeout_worded(source) })?;
        Ok(text)
    }

    /// The body as it comes, waiting as long as it takes for each line.
    pub fn stream(self) -> Result<BufReader<Box<dyn Connection>>, HttpError> {
        self.socket.set_read_timeout(None).map_err(|source| HttpError::Read { path: self.path.clone(), source })?;
        Ok(self.body)
    }
}

/// The status of `HTTP/1.x NNN reason`.
fn parse_status_line(line: &str) -> Option<u16> {
    let mut parts = line.split_ascii_whitespace();
    parts.next().filter(|v| v.starts_with("HTTP/1."))?;
    parts.next()?.parse().ok()
}

/// A read timeout reads "Resource temporarily unavailable"; say what it means.
fn timeout_worded(e: io::Error) -> io::Error {
    match e.kind() {
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => {
            io::Error::new(io::ErrorKind::TimedOut, format!("nothing within {}s", ANSWER_TIMEOUT.as_secs()))
        }
        _ => e,
    }
}

#[cfg(test)]
mod tests {
    use super::parse_status_line;

    /// The status is read from HTTP/1.0 and 1.1 status lines; anything else is not HTTP.
    #[test]
    fn the_status_line_gives_the_status_or_nothing() {
        assert_eq!(parse_status_line("HTTP/1.0 200 OK\r\n"), Some(200));
        assert_eq!(parse_status_line("HTTP/1.1 503 Service Unavailable\r\n"), Some(503));
        assert_eq!(parse_status_line("SSH-2.0-OpenSSH_9.6\r\n"), None);
        assert_eq!(parse_status_line(""), None);
    }
}
