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
use super::web_identity::read_token;
use super::{Credentials, CredentialsError, Env};
use crate::secret::Secret;

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
            if token.expose().contains(['\r', '\n']) {
                return Err(fail("the authorization token contains a line break".into()));
            }
            request = request.header("authorization", token.expose());
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

#[cfg(test)]
mod tests {
    use std::time::{Duration, SystemTime};

    use axum::http::StatusCode;
    use axum::response::IntoResponse;

    use super::super::tests::{iso, serve};
    use super::super::{CredentialsError, Env, Provider, Source};
    use super::{Container, Token};

    fn answer(id: &str, expires: SystemTime) -> String {
        format!(
            r#"{{"AccessKeyId":"{id}","SecretAccessKey":"containersecret","Token":"containertoken","Expiration":"{}","RoleArn":"arn:aws:iam::1:role/task"}}"#,
            iso(expires)
        )
    }

    /// EKS Pod Identity: `AWS_CONTAINER_CREDENTIALS_FULL_URI` with the token read from
    /// `AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE` as `Authorization`; the file is read again on
    /// refresh, so a rotated token is sent; a wrong token is refused with the server's words.
    #[tokio::test]
    async fn pod_identity_sends_the_token_file_as_authorization() {
        let (url, seen) = serve(|request, n| {
            match request.headers.get("authorization").and_then(|v| v.to_str().ok()) {
                Some("pod-token-1" | "pod-token-2") => {
                    // The first keys are inside the refresh margin, so the second call asks again.
                    let expires =
                        SystemTime::now() + if n == 1 { Duration::from_mins(4) } else { Duration::from_hours(6) };
                    answer(&format!("ASIAPOD{n}"), expires).into_response()
                }
                _ => (StatusCode::FORBIDDEN, "invalid token").into_response(),
            }
        })
        .await;
        let dir = tempfile::tempdir().unwrap();
        let token = dir.path().join("eks-pod-identity-token");
        std::fs::write(&token, "pod-token-1\n").unwrap();
        let env = Env::from_pairs([
            ("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent".to_owned()),
            ("AWS_CONFIG_FILE", "/nonexistent".to_owned()),
            ("AWS_CONTAINER_CREDENTIALS_FULL_URI", format!("{url}/v1/credentials")),
            ("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", token.display().to_string()),
            ("AWS_CONTAINER_AUTHORIZATION_TOKEN", "ignored-when-the-file-is-set".to_owned()),
        ]);
        let mut provider = Provider::resolve(&env, None, crate::delivery::http::client().unwrap()).unwrap();
        assert_eq!(provider.source(), &Source::Container { url: format!("{url}/v1/credentials") });
        let first = provider.credentials().await.unwrap();
        assert_eq!(first.access_key_id, "ASIAPOD1");
        assert_eq!(
            (first.secret_access_key.expose(), first.session_token.as_ref().map(crate::Secret::expose)),
            ("containersecret", Some("containertoken"))
        );
        std::fs::write(&token, "pod-token-2").unwrap();
        assert_eq!(provider.credentials().await.unwrap().access_key_id, "ASIAPOD2");
        // Six hours from expiry: kept.
        assert_eq!(provider.credentials().await.unwrap().access_key_id, "ASIAPOD2");
        let sent: Vec<String> = seen
            .lock()
            .unwrap()
            .iter()
            .map(|s| format!("{} {} {}", s.method, s.path, s.headers["authorization"].to_str().unwrap()))
            .collect();
        assert_eq!(sent, ["GET /v1/credentials pod-token-1", "GET /v1/credentials pod-token-2"]);
        assert!(!format!("{provider:?}").contains("pod-token") && !format!("{provider:?}").contains("containersecret"));

        std::fs::write(&token, "stolen").unwrap();
        let mut fresh = Provider::resolve(&env, None, crate::delivery::http::client().unwrap()).unwrap();
        let err = fresh.credentials().await.unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("container credentials from {url}/v1/credentials: HTTP 403: invalid token")
        );
    }

    /// ECS: the relative URI is joined to the endpoint and the token variable is sent.
    #[tokio::test]
    async fn ecs_joins_the_relative_uri_and_sends_the_token_variable() {
        let (url, seen) =
            serve(|_, _| answer("ASIAECS", SystemTime::now() + Duration::from_hours(1)).into_response()).await;
        let container =
            Container::relative(&url, "/v2/credentials/5f3c?x=1", Some(Token::Value("ecs-token".into()))).unwrap();
        assert_eq!(container.display_url(), format!("{url}/v2/credentials/5f3c"));
        let keys = container.fetch(&crate::delivery::http::client().unwrap()).await.unwrap();
        assert_eq!(keys.access_key_id, "ASIAECS");
        let seen = seen.lock().unwrap();
        assert_eq!(seen[0].path, "/v2/credentials/5f3c");
        assert_eq!(seen[0].headers["authorization"], "ecs-token");
    }

    /// A full URI over plain http must be loopback or the ECS/EKS agent's address.
    #[test]
    fn a_full_uri_over_http_must_stay_on_the_host() {
        let check = |uri: &str| Container::from_env(&Env::from_pairs([("AWS_CONTAINER_CREDENTIALS_FULL_URI", uri)]));
        for ok in [
            "http://127.0.0.1:9/c",
            "http://[::1]:9/c",
            "http://localhost/c",
            "http://169.254.170.23/v1/credentials",
            "http://[fd00:ec2::23]/v1/credentials",
            "https://creds.example.com/c",
        ] {
            assert!(check(ok).unwrap().is_some(), "{ok}");
        }
        let err = check("http://creds.example.com/c").unwrap_err();
        assert!(
            matches!(err, CredentialsError::BadVariable { variable: "AWS_CONTAINER_CREDENTIALS_FULL_URI", .. }),
            "{err}"
        );
    }
}
