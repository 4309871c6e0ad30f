//! Keys held with their expiry and fetched again [`REFRESH_BEFORE_EXPIRY`] before it, never
//! on every request.

use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, SystemTime};

use reqwest::Client;

use super::container::Container;
use super::imds::Imds;
use super::process::Process;
use super::sts::{Role, Sts};
use super::time::unix_seconds;
use super::web_identity::WebIdentity;
use super::{Credentials, CredentialsError};

/// Temporary keys are fetched again this long before they expire (the AWS SDKs use 5 minutes).
pub const REFRESH_BEFORE_EXPIRY: Duration = Duration::from_mins(5);
/// After a failed refresh while the current keys still work, the next attempt waits this
/// long, so a broken endpoint is not asked on every request.
pub const RETRY_REFRESH_AFTER: Duration = Duration::from_secs(30);

/// How a provider gets its keys.
#[derive(Debug)]
pub enum Fetch {
    /// Keys known at startup: the environment or a profile's.
    Static,
    /// The EC2 instance role.
    Imds(Imds),
    /// `AssumeRoleWithWebIdentity`.
    WebIdentity(WebIdentity),
    /// The ECS or EKS Pod Identity endpoint.
    Container(Container),
    /// A profile's `credential_process`.
    Process(Process),
    /// `AssumeRole` signed with the keys of another provider.
    AssumeRole {
        /// The role.
        role: Role,
        /// Where to ask.
        sts: Sts,
        /// The keys that sign the request.
        source: Box<Cached>,
    },
}

/// A provider and the keys it gave last.
#[derive(Debug)]
pub struct Cached {
    fetch: Fetch,
    current: Option<Credentials>,
    retry_at: Option<SystemTime>,
}

/// The future of [`Cached::credentials`], boxed because `AssumeRole` recurses into its source.
type Pending<'a> = Pin<Box<dyn Future<Output = Result<Credentials, CredentialsError>> + Send + 'a>>;

impl Cached {
    /// Keys fixed for the agent's life.
    pub fn fixed(keys: Credentials) -> Self {
        Self { fetch: Fetch::Static, current: Some(keys), retry_at: None }
    }

    /// A provider whose keys are fetched on first use.
    pub fn lazy(fetch: Fetch) -> Self {
        Self { fetch, current: None, retry_at: None }
    }

    /// Keys valid for more than [`REFRESH_BEFORE_EXPIRY`], fetched when needed; when a
    /// refresh fails, keys that have not expired yet are used and the failure is logged.
    pub fn credentials<'a>(&'a mut self, client: &'a Client) -> Pending<'a> {
        Box::pin(async move {
            let now = SystemTime::now();
            if let Some(current) = &self.current {
                let fresh = current.expires.is_none_or(|at| now + REFRESH_BEFORE_EXPIRY < at);
                let waiting = self.retry_at.is_some_and(|at| now < at) && current.expires.is_some_and(|at| now < at);
                if fresh || waiting {
                    return Ok(current.clone());
                }
            }
            match self.fetch_now(client).await {
                Ok(keys) => {
                    tracing::info!(
                        access_key_id = %keys.access_key_id,
                        expires = keys.expires.map(unix_seconds),
                        "Fetched AWS credentials."
                    );
                    self.retry_at = None;
                    Ok(self.current.insert(keys).clone())
                }
                Err(e) => match self.current.as_ref().filter(|c| c.expires.is_some_and(|at| now < at)) {
                    Some(still_valid) => {
                        tracing::warn!(
                            error = %e,
                            expires = still_valid.expires.map(unix_seconds),
                            "Could not refresh AWS credentials; using the current ones until they expire."
                        );
                        self.retry_at = Some(now + RETRY_REFRESH_AFTER);
                        Ok(still_valid.clone())
                    }
                    None => Err(e),
                },
            }
        })
    }

    async fn fetch_now(&mut self, client: &Client) -> Result<Credentials, CredentialsError> {
        match &mut self.fetch {
            Fetch::Static => Ok(self.current.clone().expect("fixed keys are held from the start")),
            Fetch::Imds(imds) => imds.fetch(client).await,
            Fetch::WebIdentity(web) => web.fetch(client).await,
            Fetch::Container(container) => container.fetch(client).await,
            Fetch::Process(process) => process.fetch().await,
            Fetch::AssumeRole { role, sts, source } => {
                let keys = source.credentials(client).await?;
                sts.assume_role(client, &keys, role).await
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::{Duration, SystemTime};

    use axum::http::StatusCode;
    use axum::response::IntoResponse;

    use super::super::container::Container;
    use super::super::tests::{iso, serve};
    use super::{Cached, Fetch};

    /// Keys four minutes from expiry are refreshed; when the refresh fails they are still
    /// used, and the endpoint is not asked again for the next 30 seconds; expired keys and a
    /// failing endpoint are an error.
    #[tokio::test]
    async fn a_failed_refresh_keeps_keys_that_still_work() {
        let down = Arc::new(AtomicBool::new(false));
        let is_down = down.clone();
        let expires = SystemTime::now() + Duration::from_mins(4);
        let (url, seen) = serve(move |_, _| {
            if is_down.load(Ordering::Relaxed) {
                return (StatusCode::SERVICE_UNAVAILABLE, "down").into_response();
            }
            format!(r#"{{"AccessKeyId":"ASIAONE","SecretAccessKey":"s","Token":"t","Expiration":"{}"}}"#, iso(expires))
                .into_response()
        })
        .await;
        let client = crate::delivery::http::client().unwrap();
        let mut cache = Cached::lazy(Fetch::Container(Container::relative(&url, "/creds", None).unwrap()));
        assert_eq!(cache.credentials(&client).await.unwrap().access_key_id, "ASIAONE");
        down.store(true, Ordering::Relaxed);
        // Inside the margin: asked, failed, the current keys are used.
        assert_eq!(cache.credentials(&client).await.unwrap().access_key_id, "ASIAONE");
        // Within 30 seconds of the failure: not asked.
        assert_eq!(cache.credentials(&client).await.unwrap().access_key_id, "ASIAONE");
        assert_eq!(seen.lock().unwrap().len(), 2);
        // Once they have expired there is nothing to fall back to.
        cache.current.as_mut().unwrap().expires = Some(SystemTime::now() - Duration::from_secs(1));
        let err = cache.credentials(&client).await.unwrap_err();
        assert_eq!(err.to_string(), format!("container credentials from {url}/creds: HTTP 503: down"));
    }
}
