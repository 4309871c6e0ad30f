//! The TOML schema: what each key means and its default.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;

pub use backends::SinkConfig;
pub use backends::prometheus::MappingRule;

pub use crate::alerting::{AlertingConfig, RuleConfig};
use serde::Deserialize;

use backends::Secret;
use backends::units::{ByteSize, Duration};

/// The whole configuration file.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// `[agent]`: windows, identity, limits. Defaults to every key's default.
    #[serde(default)]
    pub agent: AgentConfig,
    /// `[api]`: the HTTP API. Defaults to every key's default.
    #[serde(default)]
    pub api: ApiConfig,
    /// `[log]`: logging. Defaults to every key's default.
    #[serde(default)]
    pub log: LogConfig,
    /// `[sources.*]`: where metrics come from. Defaults to none, which validation refuses: at
    /// least one source must be configured.
    #[serde(default)]
    pub sources: SourcesConfig,
    /// `[sinks.NAME]`: where windows go, by the operator's name for each (letters, digits, `_`
    /// and `-`). Defaults to none, which validation refuses: windows would go nowhere.
    #[serde(default)]
    pub sinks: BTreeMap<String, SinkConfig>,
    /// `[[mappings]]`: `statsd_exporter`-style rules every Prometheus output applies, tried in
    /// order, the first match deciding (see `docs/translation.md`, "Mapping rules").
    /// Defaults to none: every series gets the default translation.
    #[serde(default)]
    pub mappings: Vec<MappingRule>,
    /// `[rules.NAME]`: alert rules over the windows, by the operator's name for each (the
    /// alerts' `alertname`; letters, digits, `_` and `-`). Defaults to none.
    #[serde(default)]
    pub rules: BTreeMap<String, RuleConfig>,
    /// `[alerting]`: the Alertmanagers the rules' alerts go to. Defaults to none: alerts are
    /// shown at `GET /alerts` only.
    #[serde(default)]
    pub alerting: Option<AlertingConfig>,
}

/// `[agent]`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentConfig {
    /// Length of a window; every window is flushed to every sink. At least 1 second (shorter
    /// windows flood backends and make rates noisy). Defaults to `"10s"`.
    #[serde(default = "default_flush_interval")]
    pub flush_interval: Duration,
    /// The host name backends report; must not be empty. Defaults to the machine's hostname.
    #[serde(default)]
    pub hostname: Option<String>,
    /// Tags added to every series by the backends (`key = "value"`, names not empty).
    /// Defaults to none.
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    /// Directory for state that must survive restarts. Defaults to `/var/lib/sluice`.
    #[serde(default = "default_data_dir")]
    pub data_dir: PathBuf,
    /// Most series live at once; samples for new series beyond it are dropped and counted.
    /// At least 1. Defaults to 200 000.
    #[serde(default = "default_max_series")]
    pub max_series: usize,
    /// A series not updated for this many windows is forgotten (a gauge stops being
    /// reported). At least 1. Defaults to 6.
    #[serde(default = "default_expire_after_windows")]
    pub expire_after_windows: u32,
    /// How long shutdown waits for backends to deliver what they hold. Defaults to `"10s"`.
    #[serde(default = "default_shutdown_timeout")]
    pub shutdown_timeout: Duration,
}

/// `[api]`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiConfig {
    /// Address of the HTTP API (`/health`, `/ready`, `/status`, `/metrics`). Defaults to
    /// `"127.0.0.1:9102"`.
    #[serde(default = "default_api_listen")]
    pub listen: SocketAddr,
    /// `[api.auth]`: bearer tokens for every path but the public ones. Defaults to absent (the
    /// API answers every local client, as a loopback-only API does).
    #[serde(default)]
    pub auth: Option<AuthConfig>,
    /// `[api.tls]`: serve the API over HTTPS with this certificate. Defaults to absent (plain
    /// HTTP, as fits a loopback address).
    #[serde(default)]
    pub tls: Option<ApiTlsConfig>,
}

/// `[api.tls]`: the certificate and key the API serves, read again on every reload.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiTlsConfig {
    /// PEM certificate chain, the server's certificate first. Required.
    pub cert: PathBuf,
    /// PEM private key of that certificate (PKCS#8, PKCS#1 or SEC1). Required.
    pub key: PathBuf,
}

/// `[api.auth]`: a request to a path not in `public` needs `Authorization: Bearer <token>`
/// with one of the tokens; read again on every reload.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthConfig {
    /// Tokens, each a string (named `tokens[N]` by its position) or `{ name, token }`; usually
    /// `"${SLUICE_API_TOKEN}"`. Defaults to none.
    #[serde(default)]
    pub tokens: Vec<TokenEntry>,
    /// A file of tokens, one per line: `TOKEN` (named `FILE:LINE`) or `NAME TOKEN`; blank lines
    /// and lines starting with `#` are skipped. Defaults to none.
    #[serde(default)]
    pub tokens_file: Option<PathBuf>,
    /// Paths answered without a token. Defaults to `["/health", "/ready", "/checks"]`, which
    /// load balancers and service managers probe.
    #[serde(default = "default_public_paths")]
    pub public: Vec<String>,
    /// `[api.auth.jwt]`: also accept JSON Web Tokens signed with this key. Defaults to absent
    /// (only the configured tokens).
    #[serde(default)]
    pub jwt: Option<JwtConfig>,
}

/// `[api.auth.jwt]`: a bearer token that is a JWT signed by `algorithm` with the key, within
/// its `exp` (required) and `nbf`, for `audience` and from `issuer` when those are set.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JwtConfig {
    /// `"HS256"` (with `secret`), `"RS256"` or `"ES256"` (with `public_key_file`). Required.
    pub algorithm: JwtAlgorithm,
    /// The HMAC secret for HS256, at least 32 bytes. Defaults to none.
    #[serde(default)]
    pub secret: Option<Secret>,
    /// A PEM public key (or certificate) for RS256 or ES256. Defaults to none.
    #[serde(default)]
    pub public_key_file: Option<PathBuf>,
    /// The `aud` a token must name. Defaults to none (any audience).
    #[serde(default)]
    pub audience: Option<String>,
    /// The `iss` a token must carry. Defaults to none (any issuer).
    #[serde(default)]
    pub issuer: Option<String>,
    /// Clock skew allowed on `exp` and `nbf`. Defaults to `"30s"`.
    #[serde(default = "default_jwt_leeway")]
    pub leeway: Duration,
}

/// The JWT signature algorithms accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum JwtAlgorithm {
    /// HMAC with SHA-256, a shared secret.
    HS256,
    /// RSA PKCS#1 v1.5 with SHA-256, a public key.
    RS256,
    /// ECDSA on P-256 with SHA-256, a public key.
    ES256,
}

fn default_jwt_leeway() -> Duration {
    Duration::from_secs(30)
}

/// One entry of `[api.auth] tokens`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum TokenEntry {
    /// A token named by its position.
    Plain(Secret),
    /// A token with the name the access log shows.
    Named {
        /// Shown in the access log for the requests it authorizes.
        name: String,
        /// The token.
        token: Secret,
    },
}

fn default_public_paths() -> Vec<String> {
    vec!["/health".to_owned(), "/ready".to_owned(), "/checks".to_owned()]
}

/// `[log]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogConfig {
    /// `"text"` or `"json"`. Defaults to `"text"`.
    #[serde(default)]
    pub format: LogFormat,
    /// A tracing filter such as `"info"` or `"warn,sluice=debug"`: comma-separated directives,
    /// each a level or `target=level`; `RUST_LOG` overrides it. Defaults to `"info"`.
    #[serde(default = "default_log_level")]
    pub level: String,
}

/// The log line format.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

/// `[sources]`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourcesConfig {
    /// `[sources.statsd]`: the StatsD/DogStatsD listeners. Defaults to absent (no listener),
    /// which validation refuses while it is the only source.
    #[serde(default)]
    pub statsd: Option<StatsdConfig>,
    /// `[sources.host]`: samples of the machine (CPU, memory, swap, disks, network, load,
    /// uptime, processes, sluice itself). Defaults to absent (not sampled).
    #[serde(default)]
    pub host: Option<HostConfig>,
    /// `[sources.otlp]`: the OTLP/HTTP metrics receiver (`POST /v1/metrics`). Defaults to absent
    /// (no receiver).
    #[serde(default)]
    pub otlp: Option<OtlpConfig>,
    /// `[sources.internal]`: sluice's own telemetry (the families of `/metrics`) as `sluice.*`
    /// series. Defaults to absent (not read).
    #[serde(default)]
    pub internal: Option<InternalConfig>,
    /// `[sources.probe.NAME]`: health checks of the services sluice sits beside, their results
    /// as `probe.*` series and, for critical ones, `GET /checks`. Defaults to none.
    #[serde(default)]
    pub probe: BTreeMap<String, ProbeConfig>,
    /// `[sources.scrape.NAME]`: applications' Prometheus `/metrics` read over HTTP, by the
    /// operator's name for each group of targets (letters, digits, `_` and `-`), which is
    /// their `job` tag. Defaults to none.
    #[serde(default)]
    pub scrape: BTreeMap<String, ScrapeConfig>,
}

/// `[sources.probe.NAME]`: one check, run every `interval`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ProbeConfig {
    /// An HTTP(S) request whose answer is checked.
    Http(HttpProbe),
    /// A TCP connection, optionally with a line sent and an answer expected.
    Tcp(TcpProbe),
    /// A file's existence, age and size, and the free space of its file system.
    File(FileProbe),
}

/// What every probe has.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProbeTiming {
    /// Time between runs; at least 1 second. Defaults to `"10s"`.
    #[serde(default = "default_probe_interval")]
    pub interval: Duration,
    /// Longest a run may take, at most `interval`; a run that takes longer fails. Defaults to
    /// `"5s"` or the interval, whichever is shorter.
    #[serde(default)]
    pub timeout: Option<Duration>,
    /// Whether `GET /checks` answers 503 while this probe fails. Defaults to `false`.
    #[serde(default)]
    pub critical: bool,
}

/// `type = "http"`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpProbe {
    /// The URL requested (`http://` or `https://`). Required.
    pub url: String,
    /// The request method. Defaults to `"GET"`.
    #[serde(default = "default_probe_method")]
    pub method: String,
    /// Request headers. Defaults to none.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Status codes that pass. Defaults to any 2xx.
    #[serde(default)]
    pub expect_status: Vec<u16>,
    /// Text the body must contain (the first 1 MiB is read). Defaults to none.
    #[serde(default)]
    pub body_contains: Option<String>,
    /// Whether an HTTPS server's certificate is verified. Defaults to `true`.
    #[serde(default = "default_true")]
    pub tls_verify: bool,
    /// Interval, timeout and criticality.
    #[serde(flatten)]
    pub timing: ProbeTiming,
}

/// `type = "tcp"`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TcpProbe {
    /// `host:port` to connect to. Required.
    pub address: String,
    /// Bytes sent once connected (`\n` for a newline, as TOML writes it). Defaults to none.
    #[serde(default)]
    pub send: Option<String>,
    /// Text the answer must contain (the first 64 KiB are read). Defaults to none.
    #[serde(default)]
    pub expect: Option<String>,
    /// Interval, timeout and criticality.
    #[serde(flatten)]
    pub timing: ProbeTiming,
}

/// `type = "file"`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileProbe {
    /// The file checked; it must exist. Required.
    pub path: PathBuf,
    /// Oldest modification time that passes. Defaults to none (any age).
    #[serde(default)]
    pub max_age: Option<Duration>,
    /// Smallest size that passes. Defaults to none (any size).
    #[serde(default)]
    pub min_size: Option<ByteSize>,
    /// Least free space on the file's file system that passes. Defaults to none.
    #[serde(default)]
    pub min_free: Option<ByteSize>,
    /// Interval, timeout and criticality.
    #[serde(flatten)]
    pub timing: ProbeTiming,
}

impl ProbeConfig {
    /// Its interval, timeout and criticality.
    pub fn timing(&self) -> &ProbeTiming {
        match self {
            Self::Http(p) => &p.timing,
            Self::Tcp(p) => &p.timing,
            Self::File(p) => &p.timing,
        }
    }

    /// `http`, `tcp` or `file`.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Http(_) => "http",
            Self::Tcp(_) => "tcp",
            Self::File(_) => "file",
        }
    }
}

fn default_probe_interval() -> Duration {
    Duration::from_secs(10)
}

impl ProbeTiming {
    /// The timeout in force: `timeout`, else 5 seconds or the interval, whichever is shorter.
    pub fn timeout(&self) -> Duration {
        self.timeout.unwrap_or_else(|| Duration(self.interval.0.min(std::time::Duration::from_secs(5))))
    }
}
fn default_probe_method() -> String {
    "GET".to_owned()
}

/// `[sources.internal]`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InternalConfig {
    /// Time between readings; at least 1 second. Defaults to `"10s"`.
    #[serde(default = "default_internal_interval")]
    pub interval: Duration,
}

impl Default for InternalConfig {
    fn default() -> Self {
        Self { interval: default_internal_interval() }
    }
}

fn default_internal_interval() -> Duration {
    Duration::from_secs(10)
}

/// `[sources.scrape.NAME]`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScrapeConfig {
    /// The URLs read, `http://` or `https://` (`"http://127.0.0.1:9100/metrics"`), no two on
    /// the same host and port (they would be one `instance`). Required, not empty.
    pub targets: Vec<String>,
    /// How often each target is read. At least 1 second. Defaults to `"10s"`.
    #[serde(default = "default_scrape_interval")]
    pub interval: Duration,
    /// How long one read may take, from connecting to the body's end; a slower one fails as
    /// `timeout`. Not longer than `interval`. Defaults to `"5s"`.
    #[serde(default = "default_scrape_timeout")]
    pub timeout: Duration,
    /// Largest body, both as sent and once gunzipped; a larger one fails as `too_large`. At
    /// least 1 KiB. Defaults to `"16MiB"`.
    #[serde(default = "default_scrape_max_body_bytes")]
    pub max_body_bytes: ByteSize,
    /// Most sample lines one read may have; a body with more fails whole as `sample_limit`,
    /// as in Prometheus. At least 1. Defaults to 100 000.
    #[serde(default = "default_scrape_sample_limit")]
    pub sample_limit: usize,
    /// Most counters, histograms and summaries (all targets of the table together) whose last
    /// totals are kept to compute per-window increases; a new one beyond it is skipped and
    /// counted (`max_series`). At least 1. Defaults to 100 000.
    #[serde(default = "default_scrape_max_series")]
    pub max_series: usize,
    /// A cumulative series not seen for this long is forgotten; its next scrape is a new
    /// baseline. At least 1 second. Defaults to `"10m"`.
    #[serde(default = "default_scrape_expire_after")]
    pub expire_after: Duration,
    /// A file holding a token sent as `Authorization: Bearer TOKEN`, read at every scrape (so
    /// a rotated token is picked up). Defaults to none.
    #[serde(default)]
    pub bearer_token_file: Option<PathBuf>,
    /// `{ username = "…", password_file = "…" }`: HTTP basic authentication, the password read
    /// at every scrape. Not with `bearer_token_file`. Defaults to none.
    #[serde(default)]
    pub basic_auth: Option<BasicAuth>,
}

/// `basic_auth` of `[sources.scrape.NAME]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BasicAuth {
    /// The user name. Required.
    pub username: String,
    /// A file holding the password (one trailing newline is not part of it). Required.
    pub password_file: PathBuf,
}

fn default_scrape_interval() -> Duration {
    Duration::from_secs(10)
}
fn default_scrape_timeout() -> Duration {
    Duration::from_secs(5)
}
fn default_scrape_max_body_bytes() -> ByteSize {
    ByteSize(16 << 20)
}
fn default_scrape_sample_limit() -> usize {
    100_000
}
fn default_scrape_max_series() -> usize {
    100_000
}
fn default_scrape_expire_after() -> Duration {
    Duration::from_secs(600)
}

/// `[sources.otlp]`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OtlpConfig {
    /// Address of the receiver's own HTTP listener (`POST /v1/metrics`, protobuf or JSON);
    /// not the API's. Defaults to `"127.0.0.1:4318"`, OTLP/HTTP's port, on loopback.
    #[serde(default = "default_otlp_listen")]
    pub listen: SocketAddr,
    /// Largest request body, both as sent and once gunzipped; a larger one is answered 413.
    /// At least 1 KiB. Defaults to `"8MiB"`.
    #[serde(default = "default_otlp_max_body_bytes")]
    pub max_body_bytes: ByteSize,
    /// Which resource and scope attributes become tags (data-point attributes always do).
    /// Defaults to `service.name` only.
    #[serde(default)]
    pub resource_attributes: AttributeRules,
    /// Most cumulative series whose last point is kept to compute per-window deltas; a point
    /// of a new cumulative series beyond it is refused and counted (`max_series`). At least 1.
    /// Defaults to 100 000.
    #[serde(default = "default_otlp_max_series")]
    pub max_series: usize,
    /// A cumulative series not reported for this long is forgotten; its next point is a new
    /// baseline. At least 1 second. Defaults to `"10m"`.
    #[serde(default = "default_otlp_expire_after")]
    pub expire_after: Duration,
}

impl Default for OtlpConfig {
    fn default() -> Self {
        Self {
            listen: default_otlp_listen(),
            max_body_bytes: default_otlp_max_body_bytes(),
            resource_attributes: AttributeRules::default(),
            max_series: default_otlp_max_series(),
            expire_after: default_otlp_expire_after(),
        }
    }
}

/// `[sources.otlp.resource_attributes]`: an attribute becomes a tag when its key matches an
/// `allow` pattern and no `deny` pattern. A pattern is a key (`"service.name"`), a prefix
/// ending in `*` (`"service.*"`) or `"*"` for every key.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AttributeRules {
    /// Keys (or patterns) kept. Defaults to `["service.name"]`.
    #[serde(default = "default_allowed_attributes")]
    pub allow: Vec<String>,
    /// Keys (or patterns) never kept, even when allowed. Defaults to none.
    #[serde(default)]
    pub deny: Vec<String>,
}

impl Default for AttributeRules {
    fn default() -> Self {
        Self { allow: default_allowed_attributes(), deny: Vec::new() }
    }
}

fn default_otlp_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 4318))
}
fn default_otlp_max_body_bytes() -> ByteSize {
    ByteSize(8 << 20)
}
fn default_otlp_max_series() -> usize {
    100_000
}
fn default_otlp_expire_after() -> Duration {
    Duration::from_secs(600)
}
fn default_allowed_attributes() -> Vec<String> {
    vec!["service.name".to_owned()]
}

/// `[sources.host]`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HostConfig {
    /// Time between samples; at least 1 second. Defaults to `"10s"`.
    #[serde(default = "default_host_interval")]
    pub interval: Duration,
    /// Also report each core's CPU time, not only the total. Defaults to `false`.
    #[serde(default)]
    pub per_cpu: bool,
    /// Filesystem types whose mounts get no disk usage metrics. Defaults to the pseudo
    /// filesystems in [`DEFAULT_EXCLUDE_FSTYPES`].
    #[serde(default = "default_exclude_fstypes")]
    pub exclude_fstypes: Vec<String>,
    /// Block devices whose name starts with one of these get no disk I/O metrics. Defaults to
    /// `["loop", "ram"]`.
    #[serde(default = "default_exclude_devices")]
    pub exclude_devices: Vec<String>,
}

/// Filesystem types without disk usage worth reporting: kernel interfaces and memory-backed
/// filesystems.
pub const DEFAULT_EXCLUDE_FSTYPES: &[&str] = &[
    "autofs",
    "binfmt_misc",
    "bpf",
    "cgroup",
    "cgroup2",
    "configfs",
    "debugfs",
    "devpts",
    "devtmpfs",
    "efivarfs",
    "fusectl",
    "hugetlbfs",
    "mqueue",
    "nsfs",
    "proc",
    "pstore",
    "ramfs",
    "rpc_pipefs",
    "securityfs",
    "squashfs",
    "sysfs",
    "tmpfs",
    "tracefs",
];

impl Default for HostConfig {
    fn default() -> Self {
        Self {
            interval: default_host_interval(),
            per_cpu: false,
            exclude_fstypes: default_exclude_fstypes(),
            exclude_devices: default_exclude_devices(),
        }
    }
}

fn default_host_interval() -> Duration {
    Duration::from_secs(10)
}
fn default_exclude_fstypes() -> Vec<String> {
    DEFAULT_EXCLUDE_FSTYPES.iter().map(|&t| t.to_owned()).collect()
}
fn default_exclude_devices() -> Vec<String> {
    vec!["loop".to_owned(), "ram".to_owned()]
}

/// `[sources.statsd]`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatsdConfig {
    /// UDP addresses to listen on; none listed twice. Defaults to none. At least one of `udp`,
    /// `unix` and `unix_stream` must be set.
    #[serde(default)]
    pub udp: Vec<SocketAddr>,
    /// Unix datagram socket paths to listen on; each at most 107 bytes and used by one listener
    /// only. Defaults to none.
    #[serde(default)]
    pub unix: Vec<PathBuf>,
    /// Unix stream socket paths to listen on (newline-separated lines); same rules as `unix`.
    /// Defaults to none.
    #[serde(default)]
    pub unix_stream: Vec<PathBuf>,
    /// File mode of the Unix socket files, as an octal string up to `"0777"`; read it with
    /// [`StatsdConfig::socket_mode_bits`]. Defaults to `"0660"`.
    #[serde(default = "default_socket_mode")]
    pub socket_mode: String,
    /// Receive buffer requested for each socket (`SO_RCVBUF`); a warning is logged when the
    /// kernel grants less (raise `net.core.rmem_max`). Between 1 byte and 2 GiB. Defaults to
    /// `"8MiB"`.
    #[serde(default = "default_receive_buffer")]
    pub receive_buffer: ByteSize,
    /// Percentiles reported for timers, histograms and distributions; each in (0, 100], none
    /// listed twice. Defaults to `[50, 90, 95, 99]`.
    #[serde(default = "default_percentiles")]
    pub percentiles: Vec<f64>,
    /// Upper bounds of the buckets counted for timers (milliseconds), histograms and
    /// distributions; finite and strictly increasing (the `+Inf` bucket is implied). Defaults
    /// to none.
    #[serde(default)]
    pub buckets: Vec<f64>,
}

impl StatsdConfig {
    /// [`StatsdConfig::socket_mode`] as permission bits, if it is an octal number no larger
    /// than `0o777` (`"0660"`, `"660"` and `"0o660"` are all accepted).
    pub fn socket_mode_bits(&self) -> Option<u32> {
        let digits = self.socket_mode.strip_prefix("0o").unwrap_or(&self.socket_mode);
        if digits.is_empty() || !digits.bytes().all(|b| (b'0'..=b'7').contains(&b)) {
            return None;
        }
        u32::from_str_radix(digits, 8).ok().filter(|bits| *bits <= 0o777)
    }
}

fn default_flush_interval() -> Duration {
    Duration::from_secs(10)
}
fn default_data_dir() -> PathBuf {
    PathBuf::from("/var/lib/sluice")
}
fn default_max_series() -> usize {
    200_000
}
fn default_expire_after_windows() -> u32 {
    6
}
fn default_shutdown_timeout() -> Duration {
    Duration::from_secs(10)
}
fn default_api_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 9102))
}
fn default_log_level() -> String {
    "info".to_owned()
}
fn default_socket_mode() -> String {
    "0660".to_owned()
}
fn default_receive_buffer() -> ByteSize {
    ByteSize(8 << 20)
}
fn default_percentiles() -> Vec<f64> {
    vec![50.0, 90.0, 95.0, 99.0]
}

impl Default for AgentConfig {
    fn default() -> Self {
        Self {
            flush_interval: default_flush_interval(),
            hostname: None,
            tags: BTreeMap::new(),
            data_dir: default_data_dir(),
            max_series: default_max_series(),
            expire_after_windows: default_expire_after_windows(),
            shutdown_timeout: default_shutdown_timeout(),
        }
    }
}

impl Default for ApiConfig {
    fn default() -> Self {
        Self { listen: default_api_listen(), auth: None, tls: None }
    }
}

impl Default for LogConfig {
    fn default() -> Self {
        Self { format: LogFormat::Text, level: default_log_level() }
    }
}

fn default_true() -> bool {
    true
}
