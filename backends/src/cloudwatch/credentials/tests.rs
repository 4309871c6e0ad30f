//! The chain's order and the providers against moto's STS; helpers the providers' own tests
//! share: a recording HTTP server and a moto server.

use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Bytes;
use axum::http::{HeaderMap, Method, Uri};
use axum::response::Response;

use super::{CredentialsError, Env, Provider, Source};

/// One request a test server saw.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: Method,
    pub path: String,
    pub headers: HeaderMap,
    pub body: String,
}

pub type Log = Arc<Mutex<Vec<Seen>>>;

/// Serves `answer(request, n)` (n counts from 1) on a loopback port; returns its base URL
/// and what it saw.
pub async fn serve<F>(answer: F) -> (String, Log)
where
    F: Fn(&Seen, usize) -> Response + Clone + Send + Sync + 'static,
{
    let log: Log = Arc::default();
    let record = log.clone();
    let app = Router::new().fallback(move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
        let (answer, record) = (answer.clone(), record.clone());
        async move {
            let seen = Seen {
                method,
                path: uri.path().to_owned(),
                headers,
                body: String::from_utf8_lossy(&body).into_owned(),
            };
            let n = {
                let mut log = record.lock().unwrap();
                log.push(seen.clone());
                log.len()
            };
            answer(&seen, n)
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}"), log)
}

/// `at` as STS and the credential endpoints write it.
pub fn iso(at: SystemTime) -> String {
    let secs = at.duration_since(UNIX_EPOCH).unwrap().as_secs();
    let text = crate::units::iso8601(secs * 1000);
    format!("{}Z", &text[..19])
}

/// The value of `name` in a form-encoded body.
pub fn form_value(body: &str, name: &str) -> Option<String> {
    form_urlencoded::parse(body.as_bytes()).find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
}

/// An STS answer of `action` with these keys, expiring at `expires`.
pub fn sts_answer(action: &str, id: &str, expires: SystemTime) -> String {
    format!(
        "<{action}Response xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><{action}Result><Credentials>\
         <AccessKeyId>{id}</AccessKeyId><SecretAccessKey>stssecret</SecretAccessKey>\
         <SessionToken>ststoken</SessionToken><Expiration>{}</Expiration></Credentials></{action}Result>\
         </{action}Response>",
        iso(expires)
    )
}

/// `moto_server` on a free loopback port, killed by its PID when dropped.
pub struct Moto {
    child: Child,
    pub url: String,
}

impl Moto {
    pub fn start() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let child = Command::new("moto_server")
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("moto_server runs (pip install \"moto[server]\")");
        let moto = Self { child, url: format!("http://127.0.0.1:{port}") };
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "moto_server did not listen on {port}");
            std::thread::sleep(Duration::from_millis(100));
        }
        moto
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn client() -> reqwest::Client {
    crate::delivery::http::client().unwrap()
}

fn source(pairs: Vec<(&'static str, String)>, profile: Option<&str>) -> Result<Source, CredentialsError> {
    Provider::resolve(&Env::from_pairs(pairs), profile, client()).map(|p| p.source().clone())
}

/// The chain follows the SDKs' order: environment keys, then a profile, then web identity,
/// then the container endpoint, then the instance role; each is picked only when configured.
#[test]
fn the_chain_picks_providers_in_the_sdk_order() {
    let dir = tempfile::tempdir().unwrap();
    let credentials = dir.path().join("credentials");
    std::fs::write(&credentials, "[default]\naws_access_key_id = AKIDFILE\naws_secret_access_key = f\n").unwrap();
    let token = dir.path().join("token");
    std::fs::write(&token, "jwt").unwrap();
    let none = "/nonexistent".to_owned();
    let env_keys = vec![("AWS_ACCESS_KEY_ID", "AKIDENV".to_owned()), ("AWS_SECRET_ACCESS_KEY", "e".to_owned())];
    let file =
        vec![("AWS_SHARED_CREDENTIALS_FILE", credentials.display().to_string()), ("AWS_CONFIG_FILE", none.clone())];
    let web = vec![
        ("AWS_WEB_IDENTITY_TOKEN_FILE", token.display().to_string()),
        ("AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/web".to_owned()),
    ];
    let container = vec![("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "/v2/credentials/abc".to_owned())];
    let no_file = vec![("AWS_SHARED_CREDENTIALS_FILE", none.clone()), ("AWS_CONFIG_FILE", none)];
    let all = [env_keys.clone(), file.clone(), web.clone(), container.clone()].concat();
    assert_eq!(source(all, None).unwrap(), Source::Environment);
    let profile = Source::Profile { path: credentials.clone(), name: "default".into() };
    assert_eq!(source([file, web.clone(), container.clone()].concat(), None).unwrap(), profile);
    let web_source = Source::WebIdentity { role_arn: "arn:aws:iam::123456789012:role/web".into(), token_file: token };
    assert_eq!(source([no_file.clone(), web, container.clone()].concat(), None).unwrap(), web_source);
    let container_source = Source::Container { url: "http://169.254.170.2/v2/credentials/abc".into() };
    assert_eq!(source([no_file.clone(), container].concat(), None).unwrap(), container_source);
    let imds = Source::InstanceRole { endpoint: "http://169.254.169.254".into() };
    assert_eq!(source(no_file.clone(), None).unwrap(), imds);
    let disabled = [no_file, vec![("AWS_EC2_METADATA_DISABLED", "true".to_owned())]].concat();
    assert!(matches!(source(disabled, None), Err(CredentialsError::Missing)));
}

/// `~/.aws/config` under `HOME`: a `[default]` with only a region lets the chain go on, a
/// named profile with only a region is an error, an SSO profile is refused with the
/// `credential_process` that replaces it, and a variable without its partner is refused
/// naming both.
#[test]
fn profiles_without_credentials_and_half_set_variables_are_told_apart() {
    let home = tempfile::tempdir().unwrap();
    std::fs::create_dir(home.path().join(".aws")).unwrap();
    let config = home.path().join(".aws").join("config");
    std::fs::write(
        &config,
        "[default]\nregion = eu-west-1\n[profile settings]\nregion = eu-west-1\n[profile sso]\nsso_session = corp\n",
    )
    .unwrap();
    let env = |extra: &[(&'static str, &str)]| {
        let mut pairs = vec![("HOME", home.path().display().to_string()), ("AWS_EC2_METADATA_DISABLED", "true".into())];
        pairs.extend(extra.iter().map(|(k, v)| (*k, (*v).to_owned())));
        pairs
    };
    assert!(matches!(source(env(&[]), None), Err(CredentialsError::Missing)));
    let err = source(env(&[("AWS_PROFILE", "settings")]), None).unwrap_err();
    assert_eq!(err.to_string(), format!("profile \"settings\" in {} has no aws_access_key_id", config.display()));
    let err = source(env(&[]), Some("sso")).unwrap_err();
    assert_eq!(
        err.to_string(),
        "profile \"sso\": IAM Identity Center (SSO) profiles are not supported; use credential_process = aws \
         configure export-credentials --profile sso --format process"
    );
    let err = source(env(&[]), Some("absent")).unwrap_err();
    let credentials = home.path().join(".aws").join("credentials");
    assert_eq!(
        err.to_string(),
        format!("profile \"absent\" not found in {} or {} (set by profile)", config.display(), credentials.display())
    );
    let err = source(env(&[("AWS_ROLE_ARN", "arn:aws:iam::1:role/r")]), None).unwrap_err();
    assert_eq!(err.to_string(), "AWS_ROLE_ARN: is set but AWS_WEB_IDENTITY_TOKEN_FILE is not; set both");
}

/// A profile's `role_arn` is assumed at moto's STS (through `AWS_ENDPOINT_URL_STS`) with
/// keys from its `source_profile`, here a `credential_process`: the keys are moto's
/// temporary ones with an expiry, and neither `Debug` nor the source shows a secret.
#[tokio::test]
async fn a_role_profile_is_assumed_at_moto_with_its_source_profile() {
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config");
    let process = r#"echo '{"Version": 1, "AccessKeyId": "AKIDPROCESS", "SecretAccessKey": "processsecret"}'"#;
    std::fs::write(
        &config,
        format!(
            "[profile app]\nrole_arn = arn:aws:iam::123456789012:role/app\nsource_profile = base\n\
             role_session_name = sluice-test\nregion = eu-west-1\n[profile base]\ncredential_process = {process}\n"
        ),
    )
    .unwrap();
    let env = Env::from_pairs([
        ("AWS_CONFIG_FILE", config.display().to_string()),
        ("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent".into()),
        ("AWS_ENDPOINT_URL_STS", moto.url.clone()),
    ]);
    let mut provider = Provider::resolve(&env, Some("app"), client()).unwrap();
    assert_eq!(
        provider.source().to_string(),
        "role arn:aws:iam::123456789012:role/app of profile \"app\" assumed with credential_process of profile \"base\""
    );
    let keys = provider.credentials().await.unwrap();
    assert!(keys.access_key_id.starts_with("ASIA"), "{keys:?}");
    assert!(keys.session_token.as_ref().is_some_and(|t| t.expose().len() > 100), "{keys:?}");
    let left = keys.expires.unwrap().duration_since(SystemTime::now()).unwrap();
    assert!(left > Duration::from_mins(55) && left <= Duration::from_hours(1), "{left:?}");
    // Cached: the same keys without asking again.
    assert_eq!(provider.credentials().await.unwrap(), keys);
    let shown = format!("{provider:?} {keys:?}");
    assert!(!shown.contains(keys.secret_access_key.expose()) && !shown.contains("processsecret"), "{shown}");
}

/// Web identity against moto's STS through `AWS_ENDPOINT_URL`: the token file's token buys
/// the role's temporary keys.
#[tokio::test]
async fn web_identity_keys_come_from_moto() {
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    let token = dir.path().join("token");
    std::fs::write(&token, "eyJhbGciOiJSUzI1NiJ9.web.identity\n").unwrap();
    let env = Env::from_pairs([
        ("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent".to_owned()),
        ("AWS_CONFIG_FILE", "/nonexistent".to_owned()),
        ("AWS_WEB_IDENTITY_TOKEN_FILE", token.display().to_string()),
        ("AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/irsa".to_owned()),
        ("AWS_ENDPOINT_URL", moto.url.clone()),
    ]);
    let mut provider = Provider::resolve(&env, None, client()).unwrap();
    let keys = provider.credentials().await.unwrap();
    assert!(keys.access_key_id.starts_with("ASIA"), "{keys:?}");
    assert!(keys.expires.unwrap() > SystemTime::now() + Duration::from_mins(55));
}

/// A `source_profile` loop is refused with the loop spelled out.
#[test]
fn a_source_profile_loop_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config");
    std::fs::write(
        &config,
        "[profile a]\nrole_arn = arn:aws:iam::1:role/a\nsource_profile = b\n\
         [profile b]\nrole_arn = arn:aws:iam::1:role/b\nsource_profile = a\n",
    )
    .unwrap();
    let pairs = vec![("AWS_CONFIG_FILE", config.display().to_string()), ("AWS_SHARED_CREDENTIALS_FILE", "/x".into())];
    let err = source(pairs, Some("a")).unwrap_err();
    assert_eq!(err.to_string(), "profile \"b\": source_profile loop: a → b → a");
}
