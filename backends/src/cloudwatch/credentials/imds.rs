//! The EC2 instance role through `IMDSv2`: a session token (`PUT /latest/api/token`), the role
//! name, then the role's keys from `/latest/meta-data/iam/security-credentials/`.

use std::time::Duration;

use reqwest::Client;

use super::http::{json_keys, send};
use super::{Credentials, CredentialsError, Env};

/// The instance metadata service of EC2.
pub const DEFAULT_IMDS_ENDPOINT: &str = "http://169.254.169.254";
/// Lifetime asked for an `IMDSv2` session token (the maximum, six hours).
const IMDS_TOKEN_TTL_SECONDS: &str = "21600";
/// Longest wait for one metadata request; the service is on the instance itself.
const IMDS_TIMEOUT: Duration = Duration::from_secs(2);

/// Where the metadata service is.
#[derive(Debug, Clone)]
pub struct Imds {
    /// The base URL, without a trailing `/`.
    pub endpoint: String,
}

impl Imds {
    /// `AWS_EC2_METADATA_SERVICE_ENDPOINT`, else the link-local address; `None` when
    /// `AWS_EC2_METADATA_DISABLED=true`.
    pub fn from_env(env: &Env) -> Option<Self> {
        if env.get("AWS_EC2_METADATA_DISABLED").is_some_and(|v| v.eq_ignore_ascii_case("true")) {
            return None;
        }
        let endpoint = env.get("AWS_EC2_METADATA_SERVICE_ENDPOINT").unwrap_or(DEFAULT_IMDS_ENDPOINT);
        Some(Self { endpoint: endpoint.trim_end_matches('/').to_owned() })
    }

    /// The role's keys, with three requests.
    pub async fn fetch(&self, client: &Client) -> Result<Credentials, CredentialsError> {
        let endpoint = &self.endpoint;
        let fail = |message: String| CredentialsError::Imds { endpoint: endpoint.clone(), message };
        let text = |request: reqwest::RequestBuilder| async {
            match send(request, IMDS_TIMEOUT).await.map_err(fail)? {
                (200..=299, body) => Ok(body),
                (status, body) => Err(fail(format!("HTTP {status}: {}", body.trim()))),
            }
        };
        let token = text(
            client
                .put(format!("{endpoint}/latest/api/token"))
                .header("X-aws-ec2-metadata-token-ttl-seconds", IMDS_TOKEN_TTL_SECONDS),
        )
        .await?;
        let token = token.trim();
        let roles_url = format!("{endpoint}/latest/meta-data/iam/security-credentials/");
        let roles = text(client.get(&roles_url).header("X-aws-ec2-metadata-token", token)).await?;
        let role =
            roles.lines().map(str::trim).find(|l| !l.is_empty()).ok_or_else(|| fail("no instance role".into()))?;
        let body = text(client.get(format!("{roles_url}{role}")).header("X-aws-ec2-metadata-token", token)).await?;
        if let Some(code) = serde_json::from_str::<serde_json::Value>(&body)
            .ok()
            .and_then(|j| j.get("Code").and_then(serde_json::Value::as_str).map(str::to_owned))
            .filter(|c| c != "Success")
        {
            return Err(fail(format!("the service answered {code}")));
        }
        json_keys(&body, "Token").map_err(fail)
    }
}
