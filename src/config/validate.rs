//! Rules a parsed configuration must follow before anything starts.
//!
//! Types are checked by serde; these are the rules about values and about the file as a
//! whole. Each [`Violation`] names its key path so the loader can point at the line.

use std::collections::HashSet;
use std::fmt::Display;
use std::path::Path;

use super::error::Table;
use super::schema::{
    AuthConfig, Config, JwtAlgorithm, JwtConfig, OtlpConfig, ProbeConfig, ScrapeConfig, SinkConfig, StatsdConfig,
    TokenEntry,
};
use crate::alerting::{AlertingConfig, Rule, RuleConfig};
use backends::prometheus::Mappings;
use backends::units::Duration;

/// The shortest window: shorter ones flood backends with requests and make per-second rates
/// noisy.
pub const MIN_FLUSH_INTERVAL: Duration = Duration::from_secs(1);

/// The shortest API token accepted (`[api.auth]`): a shorter one can be guessed.
pub const MIN_TOKEN_BYTES: usize = 16;

/// The longest Unix socket path, in bytes: `sun_path` holds 108 bytes including the final NUL.
pub const MAX_SOCKET_PATH_BYTES: usize = 107;

/// Levels a `[log] level` directive may name.
const LOG_LEVELS: &[&str] = &["trace", "debug", "info", "warn", "error", "off"];

/// A rule the configuration breaks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Violation {
    /// Keys from the root to the offending key; empty for a rule about the whole file.
    pub path: Vec<String>,
    /// The offending item when the key holds an array.
    pub item: Option<usize>,
    /// What is wrong and what to write instead, naming the key.
    pub message: String,
}

impl Violation {
    /// `invalid value for key "k" in [table]: {problem}`.
    fn value(path: &[&str], item: Option<usize>, problem: impl Display) -> Self {
        let (key, table) = path.split_last().expect("a key path is never empty");
        let table = Table(table.iter().map(|&k| k.to_owned()).collect());
        Self {
            path: path.iter().map(|&k| k.to_owned()).collect(),
            item,
            message: format!("invalid value for key {key:?} {table}: {problem}"),
        }
    }

    /// A message that stands alone, located at `path` when that is written.
    fn general(path: &[&str], message: impl Display) -> Self {
        Self { path: path.iter().map(|&k| k.to_owned()).collect(), item: None, message: message.to_string() }
    }
}

impl Config {
    /// Checks the rules serde cannot express; [`super::parse`] calls it, so a loaded
    /// configuration has always passed it.
    pub fn validate(&self) -> Result<(), Violation> {
        self.validate_agent()?;
        validate_log_level(&self.log.level)?;
        if let Some(auth) = &self.api.auth {
            validate_auth(auth)?;
        }
        if let Some(statsd) = &self.sources.statsd {
            validate_statsd(statsd)?;
        }
        if let Some(host) = &self.sources.host
            && host.interval < MIN_FLUSH_INTERVAL
        {
            return Err(Violation::value(
                &["sources", "host", "interval"],
                None,
                format!("{} is shorter than the minimum of 1s", host.interval),
            ));
        }
        if let Some(otlp) = &self.sources.otlp {
            validate_otlp(otlp, self.api.listen)?;
        }
        if let Some(internal) = &self.sources.internal
            && internal.interval < MIN_FLUSH_INTERVAL
        {
            return Err(Violation::value(
                &["sources", "internal", "interval"],
                None,
                format!("{} is shorter than the minimum of 1s", internal.interval),
            ));
        }
        for (name, probe) in &self.sources.probe {
            validate_probe(name, probe)?;
        }
        for (name, scrape) in &self.sources.scrape {
            validate_scrape(name, scrape)?;
        }
        let s = &self.sources;
        let none = s.statsd.is_none() && s.host.is_none() && s.otlp.is_none() && s.internal.is_none();
        if none && s.probe.is_empty() && s.scrape.is_empty() {
            return Err(Violation::general(
                &["sources"],
                "no source configured: add a [sources.statsd] table with a listener such as \
                 udp = [\"127.0.0.1:8125\"], a [sources.host], [sources.otlp] or [sources.internal] table, or a \
                 [sources.scrape.NAME] or [sources.probe.NAME] table",
            ));
        }
        if self.sinks.is_empty() {
            return Err(Violation::general(
                &["sinks"],
                "no sink configured: every window would be aggregated into nothing; add a sink such as \
                 [sinks.console] with type = \"console\"",
            ));
        }
        for (name, sink) in &self.sinks {
            validate_sink(name, sink)?;
        }
        self.validate_sink_listeners()?;
        self.compile_mappings()?;
        for (name, rule) in &self.rules {
            validate_rule(name, rule)?;
        }
        if let Some(alerting) = &self.alerting {
            validate_alerting(alerting)?;
        }
        Ok(())
    }

    /// `[[mappings]]` compiled, or the first broken rule, located at its key in its entry.
    pub fn compile_mappings(&self) -> Result<Mappings, Violation> {
        Mappings::compile(&self.mappings).map_err(|e| Violation {
            path: vec!["mappings".to_owned(), e.index.to_string(), e.key.to_owned()],
            item: e.item,
            message: e.to_string(),
        })
    }

    /// A sink's own listener (a scrape endpoint's `listen`) shares its port with neither the
    /// API, the OTLP receiver nor another sink's: one of them could not bind it, or would
    /// answer for the other.
    fn validate_sink_listeners(&self) -> Result<(), Violation> {
        let mut taken: Vec<(std::net::SocketAddr, String)> = vec![(self.api.listen, "[api] listen".to_owned())];
        if let Some(otlp) = &self.sources.otlp {
            taken.push((otlp.listen, "[sources.otlp] listen".to_owned()));
        }
        for (name, sink) in &self.sinks {
            let Some(addr) = sink.listens_on() else { continue };
            if let Some((_, owner)) = taken.iter().find(|(other, _)| overlaps(*other, addr)) {
                return Err(Violation::value(
                    &["sinks", name, "listen"],
                    None,
                    format!("{addr} is already used by {owner}; give this sink a port of its own"),
                ));
            }
            taken.push((addr, format!("[sinks.{name}] listen")));
        }
        Ok(())
    }

    fn validate_agent(&self) -> Result<(), Violation> {
        let agent = &self.agent;
        if agent.flush_interval < MIN_FLUSH_INTERVAL {
            return Err(Violation::value(
                &["agent", "flush_interval"],
                None,
                format!("{} is shorter than the minimum of 1s", agent.flush_interval),
            ));
        }
        if agent.max_series == 0 {
            return Err(Violation::value(&["agent", "max_series"], None, "must be at least 1"));
        }
        if agent.expire_after_windows == 0 {
            return Err(Violation::value(&["agent", "expire_after_windows"], None, "must be at least 1"));
        }
        if agent.hostname.as_ref().is_some_and(|h| h.trim().is_empty()) {
            return Err(Violation::value(
                &["agent", "hostname"],
                None,
                "must not be empty; remove the key to use the machine's hostname",
            ));
        }
        if agent.tags.keys().any(|k| k.trim().is_empty()) {
            return Err(Violation::value(&["agent", "tags"], None, "a tag name must not be empty"));
        }
        if agent.data_dir.as_os_str().is_empty() {
            return Err(Violation::value(&["agent", "data_dir"], None, "must not be empty"));
        }
        Ok(())
    }
}

/// True when two TCP listeners cannot both bind: the same port on the same address, or on any
/// address when one of them is the unspecified one (`0.0.0.0`, `[::]`). Port 0 (any free
/// port) never overlaps.
fn overlaps(a: std::net::SocketAddr, b: std::net::SocketAddr) -> bool {
    a.port() != 0 && a.port() == b.port() && (a.ip() == b.ip() || a.ip().is_unspecified() || b.ip().is_unspecified())
}

/// Each comma-separated directive is `level` or `target=level`.
fn validate_log_level(level: &str) -> Result<(), Violation> {
    for directive in level.split(',').map(str::trim) {
        let named = directive.rsplit('=').next().unwrap_or(directive).trim();
        if !LOG_LEVELS.contains(&named.to_ascii_lowercase().as_str()) {
            return Err(Violation::value(
                &["log", "level"],
                None,
                format!(
                    "{directive:?} is not a level; write one of {} or target=level (e.g. \"sluice=debug\")",
                    LOG_LEVELS.join(", ")
                ),
            ));
        }
    }
    tracing_subscriber::EnvFilter::try_new(level)
        .map_err(|e| Violation::value(&["log", "level"], None, format!("{level:?} is not a log filter ({e})")))?;
    Ok(())
}

fn validate_statsd(statsd: &StatsdConfig) -> Result<(), Violation> {
    const S: &str = "sources";
    const T: &str = "statsd";
    if statsd.udp.is_empty() && statsd.unix.is_empty() && statsd.unix_stream.is_empty() {
        return Err(Violation::general(
            &[S, T],
            "[sources.statsd] has no listener: set at least one of udp, unix or unix_stream",
        ));
    }
    let mut seen = HashSet::new();
    for (i, addr) in statsd.udp.iter().enumerate() {
        if !seen.insert(*addr) {
            return Err(Violation::value(&[S, T, "udp"], Some(i), format!("{addr} is listed twice")));
        }
    }
    let mut paths = HashSet::new();
    for (key, list) in [("unix", &statsd.unix), ("unix_stream", &statsd.unix_stream)] {
        for (i, path) in list.iter().enumerate() {
            validate_socket_path(path).map_err(|problem| Violation::value(&[S, T, key], Some(i), problem))?;
            if !paths.insert(path.as_path()) {
                return Err(Violation::value(
                    &[S, T, key],
                    Some(i),
                    format!("{} is already used by another Unix listener", path.display()),
                ));
            }
        }
    }
    if statsd.socket_mode_bits().is_none() {
        return Err(Violation::value(
            &[S, T, "socket_mode"],
            None,
            format!("{:?} is not an octal file mode up to 0777; write it like \"0660\"", statsd.socket_mode),
        ));
    }
    if statsd.receive_buffer.0 == 0 || statsd.receive_buffer.0 > i32::MAX as u64 {
        return Err(Violation::value(&[S, T, "receive_buffer"], None, "must be between 1 byte and 2GiB"));
    }
    let mut seen = Vec::new();
    for (i, &p) in statsd.percentiles.iter().enumerate() {
        if !(p.is_finite() && p > 0.0 && p <= 100.0) {
            return Err(Violation::value(
                &[S, T, "percentiles"],
                Some(i),
                format!("{p} is not a percentile; each must be greater than 0 and at most 100"),
            ));
        }
        if seen.contains(&p) {
            return Err(Violation::value(&[S, T, "percentiles"], Some(i), format!("{p} is listed twice")));
        }
        seen.push(p);
    }
    for (i, &b) in statsd.buckets.iter().enumerate() {
        if !b.is_finite() {
            return Err(Violation::value(&[S, T, "buckets"], Some(i), format!("{b} is not a finite bucket bound")));
        }
        if i > 0 && b <= statsd.buckets[i - 1] {
            return Err(Violation::value(
                &[S, T, "buckets"],
                Some(i),
                format!("{b} does not exceed the bound before it; bounds must be strictly increasing"),
            ));
        }
    }
    Ok(())
}

/// Tokens long enough to resist guessing, names the access log can tell apart, paths that
/// are paths. A `tokens_file` is read (and its tokens checked) when the agent starts or reloads.
fn validate_auth(auth: &AuthConfig) -> Result<(), Violation> {
    const PATH: [&str; 3] = ["api", "auth", "tokens"];
    if auth.tokens.is_empty() && auth.tokens_file.is_none() && auth.jwt.is_none() {
        return Err(Violation::general(
            &["api", "auth"],
            "[api.auth] has no token: add tokens = [\"${SLUICE_API_TOKEN}\"], a tokens_file or a jwt table",
        ));
    }
    if let Some(jwt) = &auth.jwt {
        validate_jwt(jwt)?;
    }
    let mut names = Vec::new();
    for (i, entry) in auth.tokens.iter().enumerate() {
        let (name, token) = match entry {
            TokenEntry::Plain(token) => (None, token),
            TokenEntry::Named { name, token } => (Some(name.as_str()), token),
        };
        if token.expose().len() < MIN_TOKEN_BYTES {
            return Err(Violation::value(
                &PATH,
                Some(i),
                format!(
                    "a token must be at least {MIN_TOKEN_BYTES} bytes (this one has {}); generate one with `openssl rand -hex 32`",
                    token.expose().len()
                ),
            ));
        }
        if let Some(name) = name {
            if name.trim().is_empty() || name.chars().any(char::is_whitespace) {
                return Err(Violation::value(
                    &PATH,
                    Some(i),
                    format!("the name {name:?} must be a word without spaces"),
                ));
            }
            if names.contains(&name) {
                return Err(Violation::value(&PATH, Some(i), format!("the name {name:?} is used twice")));
            }
            names.push(name);
        }
    }
    for (i, path) in auth.public.iter().enumerate() {
        if !path.starts_with('/') {
            return Err(Violation::value(
                &["api", "auth", "public"],
                Some(i),
                format!("{path:?} is not a path; write it as the API serves it, such as \"/health\""),
            ));
        }
    }
    Ok(())
}

/// The key that goes with the algorithm, and an HMAC secret long enough for SHA-256.
fn validate_jwt(jwt: &JwtConfig) -> Result<(), Violation> {
    const PATH: [&str; 3] = ["api", "auth", "jwt"];
    let at = |key: &'static str| [PATH[0], PATH[1], PATH[2], key];
    match (jwt.algorithm, &jwt.secret, &jwt.public_key_file) {
        (JwtAlgorithm::HS256, Some(secret), None) if secret.expose().len() < 32 => Err(Violation::value(
            &at("secret"),
            None,
            format!("an HS256 secret must be at least 32 bytes (this one has {})", secret.expose().len()),
        )),
        (JwtAlgorithm::HS256, Some(_), None) | (JwtAlgorithm::RS256 | JwtAlgorithm::ES256, None, Some(_)) => Ok(()),
        (JwtAlgorithm::HS256, _, _) => {
            Err(Violation::value(&at("algorithm"), None, "HS256 takes a secret (and no public_key_file)"))
        }
        (algorithm, _, _) => Err(Violation::value(
            &at("algorithm"),
            None,
            format!("{algorithm:?} takes a public_key_file (and no secret)"),
        )),
    }
}

/// A probe's name, timing and target.
fn validate_probe(name: &str, probe: &ProbeConfig) -> Result<(), Violation> {
    let path = |key: &'static str| ["sources", "probe", name, key];
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
        return Err(Violation::general(
            &["sources", "probe", name],
            format!("invalid probe name {name:?}: use letters, digits, \"_\" and \"-\""),
        ));
    }
    let timing = probe.timing();
    if timing.interval < MIN_FLUSH_INTERVAL {
        let message = format!("{} is shorter than the minimum of 1s", timing.interval);
        return Err(Violation::value(&path("interval"), None, message));
    }
    if let Some(timeout) = timing.timeout {
        if timeout.0.is_zero() {
            return Err(Violation::value(&path("timeout"), None, "must be longer than zero"));
        }
        if timeout > timing.interval {
            let message = format!("{timeout} is longer than the interval of {}", timing.interval);
            return Err(Violation::value(&path("timeout"), None, message));
        }
    }
    match probe {
        ProbeConfig::Http(http) => {
            if !(http.url.starts_with("http://") || http.url.starts_with("https://")) {
                let message = format!("{:?} is not an http:// or https:// URL", http.url);
                return Err(Violation::value(&path("url"), None, message));
            }
            if http.method.is_empty() || !http.method.bytes().all(|b| b.is_ascii_uppercase()) {
                let message = format!("{:?} is not an HTTP method such as \"GET\" or \"HEAD\"", http.method);
                return Err(Violation::value(&path("method"), None, message));
            }
            if let Some((i, status)) = http.expect_status.iter().enumerate().find(|(_, s)| !(100..=599).contains(*s)) {
                return Err(Violation::value(
                    &path("expect_status"),
                    Some(i),
                    format!("{status} is not an HTTP status"),
                ));
            }
        }
        ProbeConfig::Tcp(tcp) => {
            let port = tcp.address.rsplit_once(':').and_then(|(host, port)| (!host.is_empty()).then_some(port));
            if port.and_then(|p| p.parse::<u16>().ok()).is_none() {
                return Err(Violation::value(&path("address"), None, format!("{:?} is not host:port", tcp.address)));
            }
        }
        ProbeConfig::File(_) => {}
    }
    Ok(())
}

/// The shortest scrape `interval`, as for the other intervals.
const MIN_SCRAPE_INTERVAL: Duration = Duration::from_secs(1);

fn validate_scrape(name: &str, scrape: &ScrapeConfig) -> Result<(), Violation> {
    const S: &str = "sources";
    const T: &str = "scrape";
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
        return Err(Violation::general(
            &[S, T, name],
            format!("invalid scrape name {name:?} in [sources.scrape]: use only letters, digits, \"_\" and \"-\""),
        ));
    }
    if scrape.targets.is_empty() {
        return Err(Violation::value(
            &[S, T, name, "targets"],
            None,
            "must list at least one URL, such as \"http://127.0.0.1:9100/metrics\"",
        ));
    }
    let mut seen: Vec<(&str, String)> = Vec::new();
    for (i, target) in scrape.targets.iter().enumerate() {
        let instance = scrape_target(target)
            .map_err(|problem| Violation::value(&[S, T, name, "targets"], Some(i), format!("{target:?} {problem}")))?;
        if let Some((other, _)) = seen.iter().find(|(_, seen)| *seen == instance) {
            let problem = if other == target {
                format!("{target:?} is listed twice")
            } else {
                format!(
                    "{target:?} has the host and port of {other:?}: both would be instance {instance:?} and their \
                     series would merge; put one in a [sources.scrape] table of its own"
                )
            };
            return Err(Violation::value(&[S, T, name, "targets"], Some(i), problem));
        }
        seen.push((target, instance));
    }
    if scrape.interval < MIN_SCRAPE_INTERVAL {
        return Err(Violation::value(
            &[S, T, name, "interval"],
            None,
            format!("{} is shorter than the minimum of 1s", scrape.interval),
        ));
    }
    if scrape.timeout.0.is_zero() || scrape.timeout > scrape.interval {
        return Err(Violation::value(
            &[S, T, name, "timeout"],
            None,
            format!("{} must be more than 0s and at most the interval ({})", scrape.timeout, scrape.interval),
        ));
    }
    if scrape.max_body_bytes.0 < 1024 {
        return Err(Violation::value(&[S, T, name, "max_body_bytes"], None, "must be at least 1KiB"));
    }
    for (key, value) in [("sample_limit", scrape.sample_limit), ("max_series", scrape.max_series)] {
        if value == 0 {
            return Err(Violation::value(&[S, T, name, key], None, "must be at least 1"));
        }
    }
    if scrape.expire_after < Duration::from_secs(1) {
        return Err(Violation::value(
            &[S, T, name, "expire_after"],
            None,
            format!("{} is shorter than the minimum of 1s", scrape.expire_after),
        ));
    }
    if scrape.bearer_token_file.is_some() && scrape.basic_auth.is_some() {
        return Err(Violation::value(
            &[S, T, name, "basic_auth"],
            None,
            "cannot be used with bearer_token_file: keep one of them",
        ));
    }
    Ok(())
}

/// The `host:port` of `target` (its `instance`), or why it cannot be scraped: an `http(s)`
/// URL with a host.
fn scrape_target(target: &str) -> Result<String, String> {
    let url = reqwest::Url::parse(target).map_err(|e| format!("is not a URL ({e})"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!("has scheme {:?}; write an http:// or https:// URL", url.scheme()));
    }
    match (url.host_str(), url.port_or_known_default()) {
        (Some(host), Some(port)) if !host.is_empty() => Ok(format!("{host}:{port}")),
        _ => Err("has no host".to_owned()),
    }
}

fn validate_otlp(otlp: &OtlpConfig, api: std::net::SocketAddr) -> Result<(), Violation> {
    const S: &str = "sources";
    const T: &str = "otlp";
    if otlp.listen == api {
        return Err(Violation::value(
            &[S, T, "listen"],
            None,
            format!(
                "{api} is the API's [api].listen; the receiver needs an address of its own, such as 127.0.0.1:4318"
            ),
        ));
    }
    if otlp.max_body_bytes.0 < 1024 {
        return Err(Violation::value(&[S, T, "max_body_bytes"], None, "must be at least 1KiB"));
    }
    if otlp.max_series == 0 {
        return Err(Violation::value(&[S, T, "max_series"], None, "must be at least 1"));
    }
    if otlp.expire_after < Duration::from_secs(1) {
        return Err(Violation::value(
            &[S, T, "expire_after"],
            None,
            format!("{} is shorter than the minimum of 1s", otlp.expire_after),
        ));
    }
    let rules = &otlp.resource_attributes;
    for (key, patterns) in [("allow", &rules.allow), ("deny", &rules.deny)] {
        for (i, pattern) in patterns.iter().enumerate() {
            let body = pattern.strip_suffix('*').unwrap_or(pattern);
            if pattern.is_empty() || body.contains('*') {
                return Err(Violation::value(
                    &[S, T, "resource_attributes", key],
                    Some(i),
                    format!(
                        "{pattern:?} is not a pattern; write an attribute key (\"service.name\"), a prefix \
                         ending in * (\"service.*\") or \"*\""
                    ),
                ));
            }
        }
    }
    Ok(())
}

fn validate_socket_path(path: &Path) -> Result<(), String> {
    let len = path.as_os_str().len();
    if len == 0 {
        return Err("a socket path must not be empty".to_owned());
    }
    if len > MAX_SOCKET_PATH_BYTES {
        return Err(format!(
            "{} is {len} bytes long; a Unix socket path holds at most {MAX_SOCKET_PATH_BYTES}",
            path.display()
        ));
    }
    Ok(())
}

fn validate_rule(name: &str, rule: &RuleConfig) -> Result<(), Violation> {
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
        return Err(Violation::general(
            &["rules", name],
            format!("invalid rule name {name:?} in [rules]: use only letters, digits, \"_\" and \"-\""),
        ));
    }
    Rule::compile(name, rule).map(drop).map_err(|e| Violation::value(&["rules", name, e.key], None, e.message))
}

fn validate_alerting(alerting: &AlertingConfig) -> Result<(), Violation> {
    let at = |key: &str, problem: String| Violation::value(&["alerting", key], None, problem);
    for (i, url) in alerting.alertmanagers.iter().enumerate() {
        match reqwest::Url::parse(url) {
            Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => {}
            _ => {
                return Err(Violation::value(
                    &["alerting", "alertmanagers"],
                    Some(i),
                    format!("{url:?} is not an http:// or https:// URL such as \"http://127.0.0.1:9093\""),
                ));
            }
        }
    }
    if alerting.resend_every.0 < std::time::Duration::from_secs(1) {
        return Err(at("resend_every", format!("{} is shorter than the minimum of 1s", alerting.resend_every)));
    }
    if alerting.queue_capacity == 0 {
        return Err(at("queue_capacity", "must be at least 1".to_owned()));
    }
    if alerting.timeout.0.is_zero() {
        return Err(at("timeout", "must be longer than 0s".to_owned()));
    }
    for key in alerting.external_labels.keys() {
        if !backends::prometheus::is_label_name(key) || key == "alertname" {
            return Err(at(
                "external_labels",
                format!("{key:?} is not a label name ([a-zA-Z_][a-zA-Z0-9_]*, not alertname)"),
            ));
        }
    }
    alerting.credentials().check().map_err(|e| match e.key {
        Some(key) => Violation::value(&["alerting", key], None, e.message),
        None => Violation::general(&["alerting"], e.message),
    })
}

fn validate_sink(name: &str, sink: &SinkConfig) -> Result<(), Violation> {
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
        return Err(Violation::general(
            &["sinks", name],
            format!("invalid sink name {name:?} in [sinks]: use only letters, digits, \"_\" and \"-\""),
        ));
    }
    // Each backend checks its own keys; the first problem names its key.
    if let Err(e) = sink.validate() {
        return Err(match e.key {
            Some(key) => Violation::value(&["sinks", name, key], None, e.message),
            None => Violation::general(&["sinks", name], format!("{} in [sinks.{name}]", e.message)),
        });
    }
    if sink.buffer().max_windows == 0 {
        return Err(Violation::value(&["sinks", name, "buffer", "max_windows"], None, "must be at least 1"));
    }
    Ok(())
}
