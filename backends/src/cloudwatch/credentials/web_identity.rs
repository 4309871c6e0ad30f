//! Web identity (EKS IAM roles for service accounts): the token in
//! `AWS_WEB_IDENTITY_TOKEN_FILE` is exchanged for the keys of `AWS_ROLE_ARN` with STS
//! `AssumeRoleWithWebIdentity`. The file is read again for every exchange, since the kubelet
//! rotates it.

use std::io::Read as _;
use std::path::PathBuf;

use reqwest::Client;

use super::sts::{Role, Sts};
use super::{Credentials, CredentialsError, Env};
use crate::secret::Secret;

/// The largest token file read; service account tokens are about 1 KiB.
const MAX_TOKEN_BYTES: u64 = 16 * 1024;

/// A token file, a role and the STS to exchange them at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebIdentity {
    /// The token file.
    pub token_file: PathBuf,
    /// The role assumed.
    pub role: Role,
    /// Where to exchange the token.
    pub sts: Sts,
}

impl WebIdentity {
    /// From `AWS_WEB_IDENTITY_TOKEN_FILE`, `AWS_ROLE_ARN` and `AWS_ROLE_SESSION_NAME`; `None`
    /// when neither of the first two is set, an error when only one is.
    pub fn from_env(env: &Env, region: &str) -> Result<Option<Self>, CredentialsError> {
        let (file, arn) = match (env.get("AWS_WEB_IDENTITY_TOKEN_FILE"), env.get("AWS_ROLE_ARN")) {
            (None, None) => return Ok(None),
            (Some(file), Some(arn)) => (file, arn),
            (Some(_), None) => return Err(partner("AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN")),
            (None, Some(_)) => return Err(partner("AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE")),
        };
        let role = Role {
            arn: arn.to_owned(),
            session_name: env.get("AWS_ROLE_SESSION_NAME").map_or_else(default_session_name, str::to_owned),
            external_id: None,
            duration_seconds: None,
        };
        Ok(Some(Self { token_file: PathBuf::from(file), role, sts: Sts::from_env(env, region)? }))
    }

    /// Reads the token and exchanges it.
    pub async fn fetch(&self, client: &Client) -> Result<Credentials, CredentialsError> {
        let token = read_token(&self.token_file, "web identity token file")?;
        self.sts.assume_role_with_web_identity(client, &self.role, &token).await
    }
}

fn partner(set: &'static str, missing: &str) -> CredentialsError {
    CredentialsError::BadVariable { variable: set, message: format!("is set but {missing} is not; set both") }
}

/// `sluice-` and the Unix time, as the SDKs name sessions nobody named.
pub fn default_session_name() -> String {
    format!("sluice-{}", super::time::unix_seconds(std::time::SystemTime::now()))
}

/// A token file's contents without surrounding whitespace: at most [`MAX_TOKEN_BYTES`], not
/// empty.
pub fn read_token(path: &std::path::Path, what: &'static str) -> Result<Secret, CredentialsError> {
    let fail = |error| CredentialsError::TokenFile { what, path: path.to_owned(), error };
    let mut text = String::new();
    std::fs::File::open(path).and_then(|f| f.take(MAX_TOKEN_BYTES + 1).read_to_string(&mut text)).map_err(fail)?;
    if text.len() as u64 > MAX_TOKEN_BYTES {
        return Err(fail(std::io::Error::other(format!("longer than {MAX_TOKEN_BYTES} bytes"))));
    }
    let token = text.trim();
    if token.is_empty() {
        return Err(fail(std::io::Error::other("the file is empty")));
    }
    Ok(token.into())
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, SystemTime};

    use axum::http::StatusCode;
    use axum::response::IntoResponse;

    use super::super::tests::{form_value, serve, sts_answer};
    use super::super::{Env, Provider};

    /// `AssumeRoleWithWebIdentity` goes unsigned to `AWS_ENDPOINT_URL_STS` with the role, the
    /// session name and the token file's token; keys two minutes from expiry are exchanged
    /// again with the token the file holds by then; STS's error code reaches the message.
    #[tokio::test]
    async fn the_token_file_is_exchanged_and_exchanged_again_before_expiry() {
        let (url, seen) = serve(|request, n| {
            if form_value(&request.body, "WebIdentityToken").as_deref() == Some("expired-jwt") {
                let xml = "<ErrorResponse><Error><Code>ExpiredTokenException</Code><Message>Token expired</Message></Error></ErrorResponse>";
                return (StatusCode::BAD_REQUEST, xml).into_response();
            }
            let expires = SystemTime::now() + if n == 1 { Duration::from_mins(2) } else { Duration::from_hours(1) };
            sts_answer("AssumeRoleWithWebIdentity", &format!("ASIAWEB{n}"), expires).into_response()
        })
        .await;
        let dir = tempfile::tempdir().unwrap();
        let token = dir.path().join("token");
        std::fs::write(&token, "jwt-1\n").unwrap();
        let env = Env::from_pairs([
            ("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent".to_owned()),
            ("AWS_CONFIG_FILE", "/nonexistent".to_owned()),
            ("AWS_WEB_IDENTITY_TOKEN_FILE", token.display().to_string()),
            ("AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/irsa".to_owned()),
            ("AWS_ROLE_SESSION_NAME", "pod-abc".to_owned()),
            ("AWS_ENDPOINT_URL_STS", url.clone()),
            ("AWS_ENDPOINT_URL", "http://127.0.0.1:1".to_owned()),
        ]);
        let client = crate::delivery::http::client().unwrap();
        let mut provider = Provider::resolve(&env, None, client.clone()).unwrap();
        assert_eq!(provider.credentials().await.unwrap().access_key_id, "ASIAWEB1");
        std::fs::write(&token, "jwt-2").unwrap();
        let second = provider.credentials().await.unwrap();
        assert_eq!((second.access_key_id.as_str(), second.secret_access_key.expose()), ("ASIAWEB2", "stssecret"));
        assert_eq!(provider.credentials().await.unwrap(), second);
        {
            let seen = seen.lock().unwrap();
            assert_eq!(seen.len(), 2);
            for (request, jwt) in seen.iter().zip(["jwt-1", "jwt-2"]) {
                assert!(!request.headers.contains_key("authorization"));
                let field = |k| form_value(&request.body, k).unwrap();
                assert_eq!(
                    [
                        field("Action"),
                        field("Version"),
                        field("RoleArn"),
                        field("RoleSessionName"),
                        field("WebIdentityToken")
                    ],
                    ["AssumeRoleWithWebIdentity", "2011-06-15", "arn:aws:iam::123456789012:role/irsa", "pod-abc", jwt]
                );
            }
        }
        std::fs::write(&token, "expired-jwt").unwrap();
        let err = Provider::resolve(&env, None, client).unwrap().credentials().await.unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("STS AssumeRoleWithWebIdentity at {url}/: HTTP 400: ExpiredTokenException: Token expired")
        );
        assert!(!err.to_string().contains("jwt"));
    }
}
