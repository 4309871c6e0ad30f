//! HTTP authentication for the sinks that offer it: basic (`username` with `password` or
//! `password_file`) or a bearer token (`bearer_token` or `bearer_token_file`), checked and
//! read the same way by each of them.

use std::path::Path;

use reqwest::RequestBuilder;

use crate::{BuildError, Secret};

/// A sink's authentication keys, as its config holds them.
#[derive(Debug, Clone, Copy, Default)]
pub struct Credentials<'a> {
    /// `username`.
    pub username: Option<&'a str>,
    /// `password`.
    pub password: Option<&'a Secret>,
    /// `password_file`.
    pub password_file: Option<&'a Path>,
    /// `bearer_token`.
    pub bearer_token: Option<&'a Secret>,
    /// `bearer_token_file`.
    pub bearer_token_file: Option<&'a Path>,
}

/// How a sink's requests authenticate, its secret files read.
#[derive(Debug, Clone)]
pub enum HttpAuth {
    /// Not at all.
    None,
    /// HTTP basic authentication.
    Basic {
        /// The user.
        username: String,
        /// The password (empty when only a username is set).
        password: Secret,
    },
    /// `Authorization: Bearer <token>`.
    Bearer(Secret),
}

impl Credentials<'_> {
    /// Refuses keys that contradict each other, naming the key to change.
    pub fn check(&self) -> Result<(), BuildError> {
        if self.password.is_some() && self.password_file.is_some() {
            return Err(BuildError::at("password_file", "set `password` or `password_file`, not both".to_owned()));
        }
        if self.bearer_token.is_some() && self.bearer_token_file.is_some() {
            return Err(BuildError::at(
                "bearer_token_file",
                "set `bearer_token` or `bearer_token_file`, not both".to_owned(),
            ));
        }
        let basic = self.username.is_some() || self.password.is_some() || self.password_file.is_some();
        let bearer = self.bearer_token.is_some() || self.bearer_token_file.is_some();
        if basic && bearer {
            return Err(BuildError::at(
                "bearer_token",
                "use basic authentication or a bearer token, not both".to_owned(),
            ));
        }
        if self.username.is_none() && (self.password.is_some() || self.password_file.is_some()) {
            return Err(BuildError::at("username", "a password needs a `username`".to_owned()));
        }
        Ok(())
    }

    /// Whether any authentication is configured.
    pub fn any(&self) -> bool {
        self.username.is_some() || self.bearer_token.is_some() || self.bearer_token_file.is_some()
    }

    /// The authentication, its `*_file` read now (at start and at every reload).
    pub fn read(&self) -> Result<HttpAuth, BuildError> {
        Ok(match (self.username, self.bearer_token, self.bearer_token_file) {
            (Some(username), _, _) => HttpAuth::Basic {
                username: username.to_owned(),
                password: secret(self.password, self.password_file, "password_file")?,
            },
            (None, Some(token), _) => HttpAuth::Bearer(token.clone()),
            (None, None, Some(path)) => HttpAuth::Bearer(secret(None, Some(path), "bearer_token_file")?),
            (None, None, None) => HttpAuth::None,
        })
    }
}

impl HttpAuth {
    /// `request` with its `Authorization` header.
    pub fn apply(&self, request: RequestBuilder) -> RequestBuilder {
        match self {
            Self::None => request,
            Self::Basic { username, password } => request.basic_auth(username, Some(password.expose())),
            Self::Bearer(token) => request.bearer_auth(token.expose()),
        }
    }
}

fn secret(inline: Option<&Secret>, file: Option<&Path>, key: &'static str) -> Result<Secret, BuildError> {
    match (inline, file) {
        (Some(value), _) => Ok(value.clone()),
        (None, Some(path)) => Secret::from_file(path)
            .map_err(|e| BuildError::new(format!("cannot read {key:?} file {}: {e}", path.display()))),
        (None, None) => Ok(Secret::default()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Contradicting keys are refused at the key to change; a password file is read whole
    /// without its line break.
    #[test]
    fn contradicting_keys_are_refused_and_files_are_read() {
        let secret = Secret::new("s3cret");
        let path = std::env::temp_dir().join(format!("sluice-auth-{}", std::process::id()));
        std::fs::write(&path, "from-file\n").unwrap();
        let both = Credentials {
            username: Some("u"),
            password: Some(&secret),
            password_file: Some(&path),
            ..Default::default()
        };
        assert_eq!(both.check().unwrap_err().key, Some("password_file"));
        let mixed = Credentials { username: Some("u"), bearer_token: Some(&secret), ..Default::default() };
        assert_eq!(mixed.check().unwrap_err().key, Some("bearer_token"));
        let nameless = Credentials { password: Some(&secret), ..Default::default() };
        assert_eq!(nameless.check().unwrap_err().key, Some("username"));

        let basic = Credentials { username: Some("u"), password_file: Some(&path), ..Default::default() };
        assert!(basic.check().is_ok() && basic.any());
        assert!(
            matches!(basic.read().unwrap(), HttpAuth::Basic { username, password } if username == "u" && password.expose() == "from-file")
        );
        let bearer = Credentials { bearer_token_file: Some(&path), ..Default::default() };
        assert!(matches!(bearer.read().unwrap(), HttpAuth::Bearer(token) if token.expose() == "from-file"));
        assert!(matches!(Credentials::default().read().unwrap(), HttpAuth::None));
        let missing = Credentials { bearer_token_file: Some(Path::new("/nonexistent/token")), ..Default::default() };
        assert!(missing.read().unwrap_err().to_string().contains("cannot read \"bearer_token_file\" file"));
        std::fs::remove_file(&path).unwrap();
    }
}
