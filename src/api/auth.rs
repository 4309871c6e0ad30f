//! Bearer tokens for the API (`[api.auth]`): every path but the public ones needs
//! `Authorization: Bearer <token>` with one of the configured tokens. The tokens are read at
//! start and again on every reload (a `tokens_file` too), and swapped in whole.

use std::path::{Path, PathBuf};
use std::sync::{Arc, PoisonError, RwLock};

use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use backends::Secret;
use serde_json::json;
use subtle::ConstantTimeEq;

use jsonwebtoken::{Algorithm, DecodingKey, Validation};

use crate::config::{AuthConfig, JwtAlgorithm, JwtConfig, MIN_TOKEN_BYTES, TokenEntry};

/// Why the tokens could not be read.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// The `tokens_file` could not be read.
    #[error("cannot read [api.auth] tokens_file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A token of the file is too short.
    #[error(
        "{name} in [api.auth] tokens_file is shorter than {MIN_TOKEN_BYTES} bytes; generate one with `openssl rand -hex 32`"
    )]
    Short {
        /// The token's name.
        name: String,
    },
    /// Two tokens have one name, so the access log could not tell them apart.
    #[error("two [api.auth] tokens are named {name:?}; give each its own name")]
    Duplicate {
        /// The name.
        name: String,
    },
    /// Neither `tokens`, `tokens_file` nor `jwt` gave a token: nothing could be authorized.
    #[error("[api.auth] has no token: set tokens, tokens_file (with at least one token) or jwt")]
    Empty,
    /// The JWT key could not be read or is not a key of its algorithm.
    #[error("[api.auth.jwt] key: {0}")]
    JwtKey(String),
}

/// The tokens in force and the public paths.
#[derive(Debug)]
pub struct Auth {
    tokens: Vec<(String, Secret)>,
    jwt: Option<Jwt>,
    public: Vec<String>,
}

/// What a JWT is checked against.
struct Jwt {
    key: DecodingKey,
    validation: Validation,
}

impl std::fmt::Debug for Jwt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Jwt").field("algorithms", &self.validation.algorithms).finish_non_exhaustive()
    }
}

/// The claims read from a JWT, beyond those `Validation` checks.
#[derive(Debug, serde::Deserialize)]
struct Claims {
    /// Who the token is for: its name in the access log.
    #[serde(default)]
    sub: Option<String>,
}

impl Jwt {
    fn new(config: &JwtConfig) -> Result<Self, AuthError> {
        let pem = || {
            let path = config
                .public_key_file
                .as_ref()
                .ok_or_else(|| AuthError::JwtKey("public_key_file is not set".to_owned()))?;
            std::fs::read(path).map_err(|source| AuthError::Read { path: path.clone(), source })
        };
        let bad = |e: jsonwebtoken::errors::Error| AuthError::JwtKey(e.to_string());
        let (key, algorithm) = match config.algorithm {
            JwtAlgorithm::HS256 => {
                let secret = config.secret.as_ref().ok_or_else(|| AuthError::JwtKey("secret is not set".to_owned()))?;
                (DecodingKey::from_secret(secret.expose().as_bytes()), Algorithm::HS256)
            }
            JwtAlgorithm::RS256 => (DecodingKey::from_rsa_pem(&pem()?).map_err(bad)?, Algorithm::RS256),
            JwtAlgorithm::ES256 => (DecodingKey::from_ec_pem(&pem()?).map_err(bad)?, Algorithm::ES256),
        };
        let mut validation = Validation::new(algorithm);
        validation.leeway = config.leeway.0.as_secs();
        validation.validate_nbf = true;
        validation.set_required_spec_claims(&["exp"]);
        match &config.audience {
            Some(audience) => validation.set_audience(&[audience]),
            None => validation.validate_aud = false,
        }
        if let Some(issuer) = &config.issuer {
            validation.set_issuer(&[issuer]);
        }
        Ok(Self { key, validation })
    }

    /// `jwt:SUB` (or `jwt`) for a valid token; `None` for one that is not, or not a JWT.
    fn check(&self, token: &str) -> Option<String> {
        let data = jsonwebtoken::decode::<Claims>(token, &self.key, &self.validation).ok()?;
        Some(data.claims.sub.map_or_else(|| "jwt".to_owned(), |sub| format!("jwt:{sub}")))
    }
}

/// Why a request was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// No `Authorization: Bearer` header.
    Missing,
    /// A bearer token that is none of the configured ones.
    Invalid,
}

impl Auth {
    /// The tokens of `config`, its `tokens_file` read now.
    pub fn new(config: &AuthConfig) -> Result<Self, AuthError> {
        let mut tokens: Vec<(String, Secret)> = config
            .tokens
            .iter()
            .enumerate()
            .map(|(i, entry)| match entry {
                TokenEntry::Plain(token) => (format!("tokens[{i}]"), token.clone()),
                TokenEntry::Named { name, token } => (name.clone(), token.clone()),
            })
            .collect();
        if let Some(path) = &config.tokens_file {
            tokens.extend(read_tokens_file(path)?);
        }
        let jwt = config.jwt.as_ref().map(Jwt::new).transpose()?;
        if tokens.is_empty() && jwt.is_none() {
            return Err(AuthError::Empty);
        }
        for (i, (name, token)) in tokens.iter().enumerate() {
            if token.expose().len() < MIN_TOKEN_BYTES {
                return Err(AuthError::Short { name: name.clone() });
            }
            if tokens[..i].iter().any(|(other, _)| other == name) {
                return Err(AuthError::Duplicate { name: name.clone() });
            }
        }
        Ok(Self { tokens, jwt, public: config.public.clone() })
    }

    /// Whether `path` is answered without a token.
    pub fn is_public(&self, path: &str) -> bool {
        self.public.iter().any(|p| p == path)
    }

    /// The name of the token `authorization` carries, or why it carries none. Every token is
    /// compared, each in constant time, so the time taken says nothing about how much of a
    /// guess was right; a token that is none of them may be a JWT the key verifies.
    pub fn check(&self, authorization: Option<&HeaderValue>) -> Result<String, Refused> {
        let presented = authorization
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split_once(' ').filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer")))
            .map(|(_, token)| token.trim())
            .ok_or(Refused::Missing)?;
        let mut found = None;
        for (name, token) in &self.tokens {
            if bool::from(token.expose().as_bytes().ct_eq(presented.as_bytes())) && found.is_none() {
                found = Some(name.as_str());
            }
        }
        if let Some(name) = found {
            return Ok(name.to_owned());
        }
        self.jwt.as_ref().and_then(|jwt| jwt.check(presented)).ok_or(Refused::Invalid)
    }
}

/// `NAME TOKEN` or `TOKEN` per line.
fn read_tokens_file(path: &Path) -> Result<Vec<(String, Secret)>, AuthError> {
    let text = std::fs::read_to_string(path).map_err(|source| AuthError::Read { path: path.to_owned(), source })?;
    Ok(text
        .lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty() && !line.trim_start().starts_with('#'))
        .map(|(i, line)| match line.split_once(char::is_whitespace) {
            Some((name, token)) => (name.to_owned(), Secret::new(token.trim())),
            None => (format!("{}:{}", path.display(), i + 1), Secret::new(line.trim())),
        })
        .collect())
}

/// The tokens in force, shared by the API's middleware and the reload that replaces them.
#[derive(Debug, Clone, Default)]
pub struct ApiAuth(Arc<RwLock<Option<Arc<Auth>>>>);

impl ApiAuth {
    /// Tokens `auth` (none: every request is answered).
    pub fn new(auth: Option<Auth>) -> Self {
        Self(Arc::new(RwLock::new(auth.map(Arc::new))))
    }

    /// Puts `auth` in force for the next request.
    pub fn set(&self, auth: Option<Auth>) {
        *self.0.write().unwrap_or_else(PoisonError::into_inner) = auth.map(Arc::new);
    }

    fn current(&self) -> Option<Arc<Auth>> {
        self.0.read().unwrap_or_else(PoisonError::into_inner).clone()
    }
}

/// Answers 401 for a request to a non-public path without a valid token; logs each one it
/// lets through with the token's name (target `sluice::api::access`).
pub async fn require_token(State(auth): State<ApiAuth>, request: Request, next: Next) -> Response {
    let Some(auth) = auth.current() else { return next.run(request).await };
    let path = request.uri().path().to_owned();
    if auth.is_public(&path) {
        return next.run(request).await;
    }
    match auth.check(request.headers().get(header::AUTHORIZATION)) {
        Ok(name) => {
            tracing::info!(target: "sluice::api::access", token = %name, method = %request.method(), path = %path, "API request.");
            next.run(request).await
        }
        Err(refused) => {
            tracing::warn!(target: "sluice::api::access", method = %request.method(), path = %path, reason = ?refused, "API request refused: no valid bearer token.");
            let (challenge, message) = match refused {
                Refused::Missing => ("Bearer realm=\"sluice\"", "this path needs Authorization: Bearer <token>"),
                Refused::Invalid => {
                    ("Bearer realm=\"sluice\", error=\"invalid_token\"", "the bearer token is not one of [api.auth]'s")
                }
            };
            (StatusCode::UNAUTHORIZED, [(header::WWW_AUTHENTICATE, challenge)], axum::Json(json!({ "error": message })))
                .into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OPS: &str = "ops-0123456789abcdef";
    const PLAIN: &str = "plain-0123456789abcdef";

    fn config(tokens_file: Option<PathBuf>) -> AuthConfig {
        AuthConfig {
            tokens: vec![
                TokenEntry::Plain(Secret::new(PLAIN)),
                TokenEntry::Named { name: "ops".to_owned(), token: Secret::new(OPS) },
            ],
            tokens_file,
            public: vec!["/health".to_owned()],
            jwt: None,
        }
    }

    fn bearer(token: &str) -> HeaderValue {
        HeaderValue::from_str(&format!("Bearer {token}")).unwrap()
    }

    /// Each token is known by its name: a plain entry by its position, a named one by its
    /// name, a line of the file by its name or its file and line.
    #[test]
    fn each_token_is_known_by_its_name() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("tokens");
        std::fs::write(&file, "# rotated monthly\n\nci ci-0123456789abcdef\nfile-0123456789abcdef\n").unwrap();
        let auth = Auth::new(&config(Some(file.clone()))).unwrap();
        assert_eq!(auth.check(Some(&bearer(PLAIN))), Ok("tokens[0]".to_owned()));
        assert_eq!(auth.check(Some(&bearer(OPS))), Ok("ops".to_owned()));
        assert_eq!(auth.check(Some(&bearer("ci-0123456789abcdef"))), Ok("ci".to_owned()));
        let line = format!("{}:4", file.display());
        assert_eq!(auth.check(Some(&bearer("file-0123456789abcdef"))), Ok(line));
    }

    /// No header, another scheme and an unknown token are refused, each for its reason; the
    /// scheme is matched without regard to case.
    #[test]
    fn a_request_without_a_known_bearer_token_is_refused() {
        let auth = Auth::new(&config(None)).unwrap();
        assert_eq!(auth.check(None), Err(Refused::Missing));
        assert_eq!(auth.check(Some(&HeaderValue::from_static("Basic b3BzOnB3"))), Err(Refused::Missing));
        assert_eq!(auth.check(Some(&bearer("ops-0123456789abcdeX"))), Err(Refused::Invalid));
        assert_eq!(auth.check(Some(&bearer(&OPS[..OPS.len() - 1]))), Err(Refused::Invalid));
        assert_eq!(auth.check(Some(&HeaderValue::from_str(&format!("bearer {OPS}")).unwrap())), Ok("ops".to_owned()));
        assert!(auth.is_public("/health") && !auth.is_public("/status") && !auth.is_public("/health/"));
    }

    /// A file token too short, two tokens of one name, an unreadable file and no token at all
    /// are errors that name what to fix.
    #[test]
    fn unusable_tokens_are_refused_with_what_to_fix() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("tokens");
        std::fs::write(&file, "short\n").unwrap();
        let e = Auth::new(&config(Some(file.clone()))).unwrap_err().to_string();
        assert!(e.contains(":1 in [api.auth] tokens_file is shorter than 16 bytes"), "{e}");
        std::fs::write(&file, "ops another-0123456789abcdef\n").unwrap();
        let e = Auth::new(&config(Some(file.clone()))).unwrap_err().to_string();
        assert_eq!(e, "two [api.auth] tokens are named \"ops\"; give each its own name");
        let e = Auth::new(&config(Some(dir.path().join("missing")))).unwrap_err().to_string();
        assert!(e.starts_with("cannot read [api.auth] tokens_file"), "{e}");
        std::fs::write(&file, "# nothing yet\n").unwrap();
        let empty = AuthConfig { tokens: Vec::new(), tokens_file: Some(file), public: Vec::new(), jwt: None };
        assert!(matches!(Auth::new(&empty), Err(AuthError::Empty)));
    }

    const SECRET: &str = "jwt-secret-0123456789abcdef0123456789";

    fn now() -> u64 {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs()
    }

    fn jwt(claims: &serde_json::Value, secret: &str) -> HeaderValue {
        let header = jsonwebtoken::Header::new(Algorithm::HS256);
        let token = jsonwebtoken::encode(&header, claims, &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()));
        bearer(&token.unwrap())
    }

    fn with_jwt() -> Auth {
        let jwt = JwtConfig {
            algorithm: JwtAlgorithm::HS256,
            secret: Some(Secret::new(SECRET)),
            public_key_file: None,
            audience: Some("sluice".to_owned()),
            issuer: Some("https://id.example".to_owned()),
            leeway: backends::units::Duration::from_secs(30),
        };
        Auth::new(&AuthConfig { tokens: Vec::new(), tokens_file: None, public: Vec::new(), jwt: Some(jwt) }).unwrap()
    }

    /// A JWT signed with the secret, for the audience and from the issuer, within `exp` and
    /// `nbf`, is let through under its `sub`; expired, early, wrong-audience, wrong-issuer,
    /// wrongly signed and `exp`-less tokens are refused.
    #[test]
    fn a_jwt_is_let_through_only_when_every_claim_holds() {
        let auth = with_jwt();
        let iss = "https://id.example";
        let good = json!({ "sub": "grafana", "aud": "sluice", "iss": iss, "exp": now() + 600, "nbf": now() - 10 });
        assert_eq!(auth.check(Some(&jwt(&good, SECRET))), Ok("jwt:grafana".to_owned()));
        let refused = [
            json!({ "sub": "a", "aud": "sluice", "iss": iss, "exp": now() - 3600 }),
            json!({ "sub": "a", "aud": "sluice", "iss": iss, "exp": now() + 600, "nbf": now() + 3600 }),
            json!({ "sub": "a", "aud": "grafana", "iss": iss, "exp": now() + 600 }),
            json!({ "sub": "a", "aud": "sluice", "iss": "https://other.example", "exp": now() + 600 }),
            json!({ "sub": "a", "aud": "sluice", "iss": iss }),
        ];
        for claims in &refused {
            assert_eq!(auth.check(Some(&jwt(claims, SECRET))), Err(Refused::Invalid), "{claims}");
        }
        let forged = jwt(&good, "another-secret-0123456789abcdef01234");
        assert_eq!(auth.check(Some(&forged)), Err(Refused::Invalid));
    }
}
