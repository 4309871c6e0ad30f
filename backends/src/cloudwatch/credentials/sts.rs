//! AWS STS in the Query protocol: `AssumeRole` (signed with the source's keys) and
//! `AssumeRoleWithWebIdentity` (unsigned: the token is the proof).

use std::time::Duration;

use reqwest::{Client, Url};

use super::http::send;
use super::{Credentials, CredentialsError, Env};
use crate::secret::Secret;

/// The STS API version of the Query protocol.
const VERSION: &str = "2011-06-15";
/// Longest wait for one STS request.
const STS_TIMEOUT: Duration = Duration::from_secs(10);
/// The Query protocol's content type.
const FORM_CONTENT_TYPE: &str = "application/x-www-form-urlencoded; charset=utf-8";

/// An STS endpoint and the region requests to it are signed for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sts {
    /// Where requests go.
    pub url: Url,
    /// The region of the signature.
    pub region: String,
}

/// The role to assume and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Role {
    /// `RoleArn`.
    pub arn: String,
    /// `RoleSessionName`.
    pub session_name: String,
    /// `ExternalId`, when the role's trust policy asks for one.
    pub external_id: Option<String>,
    /// `DurationSeconds`; STS's default (one hour) when absent.
    pub duration_seconds: Option<u32>,
}

impl Sts {
    /// `AWS_ENDPOINT_URL_STS`, else `AWS_ENDPOINT_URL`, else `https://sts.{region}.amazonaws.com`
    /// (as the AWS SDKs pick it, so an emulator can stand in).
    pub fn from_env(env: &Env, region: &str) -> Result<Self, CredentialsError> {
        let (variable, url) = match (env.get("AWS_ENDPOINT_URL_STS"), env.get("AWS_ENDPOINT_URL")) {
            (Some(url), _) => ("AWS_ENDPOINT_URL_STS", url.to_owned()),
            (None, Some(url)) => ("AWS_ENDPOINT_URL", url.to_owned()),
            (None, None) => ("region", format!("https://sts.{region}.amazonaws.com")),
        };
        let url = Url::parse(&url)
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
            .ok_or_else(|| CredentialsError::BadVariable {
                variable,
                message: format!("{url:?} is not an http:// or https:// URL with a host"),
            })?;
        Ok(Self { url, region: region.to_owned() })
    }

    /// `AssumeRole`, signed with `keys`.
    pub async fn assume_role(
        &self,
        client: &Client,
        keys: &Credentials,
        role: &Role,
    ) -> Result<Credentials, CredentialsError> {
        let duration = role.duration_seconds.map(|d| d.to_string());
        let mut form = vec![
            ("Action", "AssumeRole"),
            ("Version", VERSION),
            ("RoleArn", role.arn.as_str()),
            ("RoleSessionName", role.session_name.as_str()),
        ];
        form.extend(role.external_id.as_deref().map(|id| ("ExternalId", id)));
        form.extend(duration.as_deref().map(|d| ("DurationSeconds", d)));
        let body = encode(&form);
        let headers = [("content-type", FORM_CONTENT_TYPE)];
        let signature =
            super::sigv4::post_headers(keys, &self.region, "sts", self.url.as_str(), &headers, body.as_bytes())
                .map_err(|message| self.fail("AssumeRole", message))?;
        let mut request = client.post(self.url.clone()).header("content-type", FORM_CONTENT_TYPE).body(body);
        for (name, value) in &signature {
            request = request.header(name, value);
        }
        self.credentials("AssumeRole", request).await
    }

    /// `AssumeRoleWithWebIdentity`, unsigned.
    pub async fn assume_role_with_web_identity(
        &self,
        client: &Client,
        role: &Role,
        token: &Secret,
    ) -> Result<Credentials, CredentialsError> {
        let duration = role.duration_seconds.map(|d| d.to_string());
        let mut form = vec![
            ("Action", "AssumeRoleWithWebIdentity"),
            ("Version", VERSION),
            ("RoleArn", role.arn.as_str()),
            ("RoleSessionName", role.session_name.as_str()),
            ("WebIdentityToken", token.expose()),
        ];
        form.extend(duration.as_deref().map(|d| ("DurationSeconds", d)));
        let request = client.post(self.url.clone()).header("content-type", FORM_CONTENT_TYPE).body(encode(&form));
        self.credentials("AssumeRoleWithWebIdentity", request).await
    }

    async fn credentials(
        &self,
        action: &'static str,
        request: reqwest::RequestBuilder,
    ) -> Result<Credentials, CredentialsError> {
        let (status, body) = send(request, STS_TIMEOUT).await.map_err(|m| self.fail(action, m))?;
        if !(200..300).contains(&status) {
            let message = match crate::cloudwatch::aws_error(&body) {
                Some((code, message)) => format!("HTTP {status}: {code}: {message}"),
                None => format!("HTTP {status}"),
            };
            return Err(self.fail(action, message));
        }
        parse_credentials(&body).map_err(|m| self.fail(action, m))
    }

    fn fail(&self, action: &'static str, message: String) -> CredentialsError {
        CredentialsError::Sts { action, endpoint: self.url.to_string(), message }
    }
}

fn encode(form: &[(&str, &str)]) -> String {
    form_urlencoded::Serializer::new(String::new()).extend_pairs(form).finish()
}

/// The `<Credentials>` of an `AssumeRole*Response`.
///
/// Hand-written rather than with an XML crate: STS answers four leaf elements of ASCII text
/// inside one `<Credentials>` element, and no XML crate is in the lockfile.
pub fn parse_credentials(xml: &str) -> Result<Credentials, String> {
    let block = element(xml, "Credentials").ok_or("the answer has no <Credentials>")?;
    let leaf = |name: &'static str| element(block, name).map(unescape).ok_or(name);
    let missing = |name| format!("the answer has no <{name}>");
    let expiration = leaf("Expiration").map_err(missing)?;
    let expires =
        super::time::parse_iso8601(expiration.trim()).ok_or_else(|| format!("unreadable Expiration {expiration:?}"))?;
    Ok(Credentials {
        access_key_id: leaf("AccessKeyId").map_err(missing)?,
        secret_access_key: leaf("SecretAccessKey").map_err(missing)?.into(),
        session_token: Some(leaf("SessionToken").map_err(missing)?.into()),
        expires: Some(expires),
    })
}

/// The text between the first `<name>` (or `<name attributes…>`) and the next `</name>`.
fn element<'a>(xml: &'a str, name: &str) -> Option<&'a str> {
    let mut from = 0;
    loop {
        let at = from + xml[from..].find('<')? + 1;
        let rest = &xml[at..];
        if let Some(after) = rest.strip_prefix(name)
            && let Some(end_of_tag) = after.find('>')
            && (after.starts_with('>') || after.starts_with(char::is_whitespace))
        {
            let start = at + name.len() + end_of_tag + 1;
            let end = start + xml[start..].find(&format!("</{name}>"))?;
            return Some(&xml[start..end]);
        }
        from = at;
    }
}

/// The five predefined entities and numeric references; anything else is kept as it is.
fn unescape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        let Some(end) = rest.find(';') else { break };
        let entity = &rest[1..end];
        let decoded = match entity {
            "lt" => Some('<'),
            "gt" => Some('>'),
            "amp" => Some('&'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            _ => entity
                .strip_prefix("#x")
                .map(|hex| u32::from_str_radix(hex, 16))
                .or_else(|| entity.strip_prefix('#').map(str::parse))
                .and_then(Result::ok)
                .and_then(char::from_u32),
        };
        if let Some(c) = decoded {
            out.push(c);
            rest = &rest[end + 1..];
        } else {
            out.push('&');
            rest = &rest[1..];
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use super::{Env, Sts, parse_credentials};

    /// The keys, the token and the expiry come out of an `AssumeRoleWithWebIdentity` answer as
    /// moto writes it, entities decoded.
    #[test]
    fn an_sts_answer_yields_its_keys_and_expiry() {
        let xml = "<AssumeRoleWithWebIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\
            <AssumeRoleWithWebIdentityResult><Credentials><AccessKeyId>ASIAX</AccessKeyId>\
            <SecretAccessKey>a/b+c&amp;d</SecretAccessKey><SessionToken>FQo&#x3D;=</SessionToken>\
            <Expiration>2025-11-22T15:00:10.354363Z</Expiration></Credentials></AssumeRoleWithWebIdentityResult>\
            </AssumeRoleWithWebIdentityResponse>";
        let keys = parse_credentials(xml).unwrap();
        assert_eq!(keys.access_key_id, "ASIAX");
        assert_eq!(keys.secret_access_key.expose(), "a/b+c&d");
        assert_eq!(keys.session_token.as_ref().map(crate::Secret::expose), Some("FQo=="));
        assert_eq!(keys.expires, Some(UNIX_EPOCH + Duration::from_secs(1_763_823_610)));
        let err = parse_credentials("<Credentials><AccessKeyId>A</AccessKeyId></Credentials>").unwrap_err();
        assert_eq!(err, "the answer has no <Expiration>");
        assert_eq!(parse_credentials("<html>").unwrap_err(), "the answer has no <Credentials>");
    }

    /// `AWS_ENDPOINT_URL_STS` wins over `AWS_ENDPOINT_URL`, which wins over the regional
    /// endpoint; a URL that is not http(s) is refused naming the variable.
    #[test]
    fn the_sts_endpoint_follows_the_sdk_variables() {
        let url = |pairs: Vec<(&'static str, &str)>| {
            Sts::from_env(&Env::from_pairs(pairs), "eu-west-1").map(|s| s.url.to_string())
        };
        assert_eq!(url(vec![]).unwrap(), "https://sts.eu-west-1.amazonaws.com/");
        assert_eq!(url(vec![("AWS_ENDPOINT_URL", "http://127.0.0.1:1")]).unwrap(), "http://127.0.0.1:1/");
        let both = vec![("AWS_ENDPOINT_URL", "http://127.0.0.1:1"), ("AWS_ENDPOINT_URL_STS", "http://127.0.0.1:2/sts")];
        assert_eq!(url(both).unwrap(), "http://127.0.0.1:2/sts");
        let err = url(vec![("AWS_ENDPOINT_URL_STS", "ftp://x")]).unwrap_err();
        assert_eq!(err.to_string(), "AWS_ENDPOINT_URL_STS: \"ftp://x\" is not an http:// or https:// URL with a host");
    }
}

#[cfg(test)]
mod signed {
    use std::time::{Duration, SystemTime};

    use axum::response::IntoResponse;

    use super::super::tests::{form_value, serve, sts_answer};
    use super::super::{Env, Provider};

    /// `AssumeRole` is signed with SigV4 for `sts` in the profile's region with the source
    /// profile's keys (session token included) and carries the role, session name, external
    /// ID and duration of the profile.
    #[tokio::test]
    async fn assume_role_is_signed_with_the_source_profile_keys() {
        let (url, seen) = serve(|_, _| {
            sts_answer("AssumeRole", "ASIAROLE", SystemTime::now() + Duration::from_hours(1)).into_response()
        })
        .await;
        let dir = tempfile::tempdir().unwrap();
        let (config, credentials) = (dir.path().join("config"), dir.path().join("credentials"));
        std::fs::write(
            &config,
            "[profile deploy]\nrole_arn = arn:aws:iam::123456789012:role/deploy\nsource_profile = base\n\
             external_id = ext-1\nduration_seconds = 900\nregion = eu-central-1\nrole_session_name = s\n",
        )
        .unwrap();
        std::fs::write(
            &credentials,
            "[base]\naws_access_key_id = AKIDBASE\naws_secret_access_key = basesecret\naws_session_token = basetoken\n",
        )
        .unwrap();
        let env = Env::from_pairs([
            ("AWS_CONFIG_FILE", config.display().to_string()),
            ("AWS_SHARED_CREDENTIALS_FILE", credentials.display().to_string()),
            ("AWS_PROFILE", "deploy".to_owned()),
            ("AWS_ENDPOINT_URL_STS", url),
        ]);
        let mut provider = Provider::resolve(&env, None, crate::delivery::http::client().unwrap()).unwrap();
        let keys = provider.credentials().await.unwrap();
        assert_eq!(
            (keys.access_key_id.as_str(), keys.session_token.as_ref().map(crate::Secret::expose)),
            ("ASIAROLE", Some("ststoken"))
        );
        let seen = seen.lock().unwrap();
        let request = &seen[0];
        let authorization = request.headers["authorization"].to_str().unwrap();
        assert!(authorization.starts_with("AWS4-HMAC-SHA256 Credential=AKIDBASE/"), "{authorization}");
        assert!(authorization.contains("/eu-central-1/sts/aws4_request"), "{authorization}");
        assert_eq!(request.headers["x-amz-security-token"], "basetoken");
        let field = |k| form_value(&request.body, k).unwrap();
        assert_eq!(
            [
                field("Action"),
                field("RoleArn"),
                field("RoleSessionName"),
                field("ExternalId"),
                field("DurationSeconds")
            ],
            ["AssumeRole", "arn:aws:iam::123456789012:role/deploy", "s", "ext-1", "900"]
        );
    }
}
