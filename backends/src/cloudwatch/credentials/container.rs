//! ECS task roles and EKS Pod Identity: keys from a container credentials endpoint,
//! `http://169.254.170.2` + `AWS_CONTAINER_CREDENTIALS_RELATIVE_URI` (ECS), or
//! `AWS_CONTAINER_CREDENTIALS_FULL_URI` (EKS Pod Identity, local agents) with the
//! `Authorization` header from `AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE` (read again for every
//! fetch, since EKS rotates it) or `AWS_CONTAINER_AUTHORIZATION_TOKEN`.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use reqwest::{Client, Url};

use super::http::{json_keys, send};
use super::secret::Secret;
use super::web_identity::read_token;
use super::{Credentials, CredentialsError, Env};

/// The ECS credentials endpoint that a relative URI is resolved against.
pub const ECS_ENDPOINT: &str = "http://169.254.170.2";
/// Longest wait for the endpoint, which is on the host or the node.
const CONTAINER_TIMEOUT: Duration = Duration::from_secs(5);
/// Plain-http hosts a full URI may name besides loopback: the ECS and EKS Pod Identity
/// agents (the AWS SDKs allow the same).
const LINK_LOCAL_HOSTS: [&str; 3] = ["169.254.170.2", "169.254.170.23", "fd00:ec2::23"];

/// The endpoint and its authorization.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Container {
    /// Where the keys are fetched.
    pub url: Url,
    /// What goes in `Authorization`, if anything.
    pub token: Option<Token>,
}

/// Where the authorization token comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Token {
    /// `AWS_CONTAINER_AUTHORIZATION_TOKEN`.
    Value(Secret),
    /// `AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE`.
    File(PathBuf),
}

impl Container {
    /// From the environment, relative URI first; `None` when neither URI is set.
    pub fn from_env(env: &Env) -> Result<Option<Self>, CredentialsError> {
        let token =
            match (env.get("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"), env.get("AWS_CONTAINER_AUTHORIZATION_TOKEN")) {
                (Some(file), _) => Some(Token::File(PathBuf::from(file))),
                (None, Some(token)) => Some(Token::Value(token.into())),
                (None, None) => None,
            };
        if let Some(relative) = env.get("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI") {
            return Self::relative(ECS_ENDPOINT, relative, token).map(Some);
        }
        let Some(full) = env.get("AWS_CONTAINER_CREDENTIALS_FULL_URI") else { return Ok(None) };
        let bad =
            |message: String| CredentialsError::BadVariable { variable: "AWS_CONTAINER_CREDENTIALS_FULL_URI", message };
        let url = Url::parse(full).map_err(|e| bad(format!("{full:?} is not a URL ({e})")))?;
        let allowed = match (url.scheme(), url.host_str()) {
            ("https", Some(_)) => true,
            ("http", Some(host)) => is_allowed_http_host(host),
            _ => false,
        };
        if !allowed {
            return Err(bad(format!(
                "{full:?} must be https://, or http:// to a loopback address or the ECS or EKS agent"
            )));
        }
        Ok(Some(Self { url, token }))
    }

    /// `base` joined with a relative URI such as `/v2/credentials/…`.
    pub fn relative(base: &str, relative: &str, token: Option<Token>) -> Result<Self, CredentialsError> {
        let url = Url::parse(base).and_then(|b| b.join(relative)).map_err(|e| CredentialsError::BadVariable {
            variable: "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
            message: format!("{relative:?} does not make a URL with {base} ({e})"),
        })?;
        Ok(Self { url, token })
    }

    /// The URL without its query, for the log.
    pub fn display_url(&self) -> String {
        let mut url = self.url.clone();
        url.set_query(None);
        url.to_string()
    }

    /// One GET with the authorization token.
    pub async fn fetch(&self, client: &Client) -> Result<Credentials, CredentialsError> {
        let fail = |message: String| CredentialsError::Container { url: self.display_url(), message };
        let mut request = client.get(self.url.clone());
        let token = match &self.token {
            Some(Token::Value(token)) => Some(token.clone()),
            Some(Token::File(path)) => Some(read_token(path, "container authorization token file")?),
            None => None,
        };
        if let Some(token) = token {
            if token.contains(['\r', '\n']) {
                return Err(fail("the authorization token contains a line break".into()));
            }
            request = request.header("authorization", token.as_str());
        }
        match send(request, CONTAINER_TIMEOUT).await.map_err(fail)? {
            (200..=299, body) => json_keys(&body, "Token").map_err(fail),
            // The body of a refusal names the problem ("invalid token"); it holds no keys.
            (status, body) => Err(fail(format!("HTTP {status}: {}", body.trim()))),
        }
    }
}

fn is_allowed_http_host(host: &str) -> bool {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || LINK_LOCAL_HOSTS.contains(&bare)
        || bare.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}
