//! Reading the small JSON and XML answers of the credential endpoints.

use std::time::Duration;

use reqwest::RequestBuilder;

/// The largest answer read from a credential endpoint; real ones are under 4 KiB, so a
/// larger one is refused rather than buffered.
pub const MAX_ANSWER_BYTES: usize = 64 * 1024;

/// Sends `request` with `timeout` and returns the status and the body, at most
/// [`MAX_ANSWER_BYTES`]; the error is a sentence for the operator.
pub async fn send(request: RequestBuilder, timeout: Duration) -> Result<(u16, String), String> {
    let mut response = request.timeout(timeout).send().await.map_err(|e| e.to_string())?;
    let status = response.status().as_u16();
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| e.to_string())? {
        if body.len() + chunk.len() > MAX_ANSWER_BYTES {
            return Err(format!("HTTP {status}: the answer is longer than {MAX_ANSWER_BYTES} bytes"));
        }
        body.extend_from_slice(&chunk);
    }
    let body = String::from_utf8(body).map_err(|_| format!("HTTP {status}: the answer is not UTF-8"))?;
    Ok((status, body))
}

/// The JSON keys shared by the container endpoint, the metadata service and
/// `credential_process`: `AccessKeyId`, `SecretAccessKey`, the token under `token_key`, and an
/// optional `Expiration`.
pub fn json_keys(body: &str, token_key: &str) -> Result<super::Credentials, String> {
    let json: serde_json::Value = serde_json::from_str(body).map_err(|e| format!("unreadable answer: {e}"))?;
    let field = |name: &str| json.get(name).and_then(serde_json::Value::as_str).filter(|v| !v.is_empty());
    let (Some(access_key_id), Some(secret)) = (field("AccessKeyId"), field("SecretAccessKey")) else {
        return Err("the answer has no AccessKeyId or SecretAccessKey".into());
    };
    let expires = match field("Expiration") {
        Some(at) => Some(super::time::parse_iso8601(at).ok_or_else(|| format!("unreadable Expiration {at:?}"))?),
        None => None,
    };
    Ok(super::Credentials {
        access_key_id: access_key_id.to_owned(),
        secret_access_key: secret.into(),
        session_token: field(token_key).map(Into::into),
        expires,
    })
}
