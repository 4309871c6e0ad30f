//! Reading a config file into a validated [`Config`].
//!
//! The pipeline: parse into toml's span-preserving tree → expand `${ENV}` in string values →
//! deserialize everything but the sinks → deserialize each sink by its `type` → validate.
//! Every failure is turned into a [`ConfigError`] at the line of the key it concerns.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::ops::Range;
use std::path::Path;

use serde::Deserialize;
use toml::Spanned;
use toml::de::{DeTable, DeValue, ValueDeserializer};

use super::env::{self, EnvFailure, Lookup};
use super::error::{ConfigError, Location, Table, quoted};
use super::locate::{self, backticked, closest};
use super::schema::{ApiConfig, Config, SinkConfig};
use super::validate::Violation;

/// The embedded default: StatsD on UDP 127.0.0.1:8125, a console sink, the API on
/// 127.0.0.1:9102, a window every 10 seconds.
pub const DEFAULT_CONFIG: &str = include_str!("../../config/default.toml");

/// The origin [`DEFAULT_CONFIG`] is reported under.
pub const DEFAULT_ORIGIN: &str = "<embedded default>";

/// Reads and validates the file at `path`.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    let text = std::fs::read_to_string(path)
        .map_err(|source| ConfigError::Read { path: path.display().to_string(), source })?;
    parse(&text, &path.display().to_string())
}

/// Parses and validates `text`, expanding `${NAME}` from the process environment; `origin`
/// (a file name) starts every error message.
pub fn parse(text: &str, origin: &str) -> Result<Config, ConfigError> {
    parse_with_env(text, origin, &|name| std::env::var(name))
}

/// [`parse`] with the environment given as a function, so tests need not touch the process
/// environment.
pub(crate) fn parse_with_env(text: &str, origin: &str, lookup: Lookup<'_>) -> Result<Config, ConfigError> {
    let source = Source { text, origin };
    let mut root = DeTable::parse(text)
        .map_err(|e| ConfigError::Syntax { at: source.at(e.span()), message: syntax_message(&e) })?;
    env::expand_table(root.get_mut(), &mut Vec::new(), lookup).map_err(|f| source.env_error(&f))?;
    let doc = Document { source, tree: root.get_ref().clone() };

    // Sinks are deserialized one by one below, by their `type`, so their errors keep a position.
    let sinks = root.get_mut().remove("sinks");
    let mut config = Config::deserialize(toml::de::Deserializer::from(root)).map_err(|e| doc.de_error(&e))?;
    if let Some(sinks) = sinks {
        config.sinks = doc.sinks(sinks)?;
    }
    config.validate().map_err(|v| doc.violation(v))?;
    Ok(config)
}

/// Only `[api]` of the file at `path`, for the commands that talk to a running agent
/// (`sluice status`, `sluice tap`); see [`parse_api`].
pub fn api_config(path: &Path) -> Result<ApiConfig, ConfigError> {
    let text = std::fs::read_to_string(path)
        .map_err(|source| ConfigError::Read { path: path.display().to_string(), source })?;
    parse_api(&text, &path.display().to_string())
}

/// Only `[api] listen` of `text`, its default when absent; see [`parse_api`].
pub fn parse_api_listen(text: &str, origin: &str) -> Result<SocketAddr, ConfigError> {
    parse_api(text, origin).map(|api| api.listen)
}

/// Only `[api]` of `text`, its defaults when absent. The rest of the file is neither
/// deserialized nor validated and `${ENV}` is not expanded: the secrets a service's
/// environment provides need not be set in the shell that asks the agent how it is doing
/// (a command expands the one token it sends, see [`expand_env`]).
pub fn parse_api(text: &str, origin: &str) -> Result<ApiConfig, ConfigError> {
    /// The file seen through `[api]` alone: serde skips every other key unread.
    #[derive(Deserialize)]
    struct ApiOnly {
        #[serde(default)]
        api: ApiConfig,
    }
    let source = Source { text, origin };
    let root = DeTable::parse(text)
        .map_err(|e| ConfigError::Syntax { at: source.at(e.span()), message: syntax_message(&e) })?;
    let doc = Document { source, tree: root.get_ref().clone() };
    let only = ApiOnly::deserialize(toml::de::Deserializer::from(root)).map_err(|e| doc.de_error(&e))?;
    Ok(only.api)
}

/// `text` with `${NAME}` replaced from the process environment, as a config value is; the
/// variable and why when one cannot be.
pub fn expand_env(text: &str) -> Result<String, String> {
    super::env::expand(text, &|name| std::env::var(name))
        .map(std::borrow::Cow::into_owned)
        .map_err(|e| format!("${{{}}} {}", e.variable, e.reason))
}

/// The text and its name, for turning byte offsets into `file:line:column`.
struct Source<'a> {
    text: &'a str,
    origin: &'a str,
}

impl Source<'_> {
    fn at(&self, span: Option<Range<usize>>) -> Location {
        Location { origin: self.origin.to_owned(), position: span.map(|s| locate::position(self.text, s.start)) }
    }

    fn env_error(&self, failure: &EnvFailure) -> ConfigError {
        // Point at the `${` itself when the value is written plainly enough to find it.
        let needle = format!("${{{}", failure.error.variable);
        let offset = self
            .text
            .get(failure.span.clone())
            .and_then(|raw| raw.find(&needle))
            .map_or(failure.span.start, |i| failure.span.start + i);
        let (key, table) = split(&failure.path);
        ConfigError::Variable {
            at: self.at(Some(offset..offset)),
            variable: failure.error.variable.clone(),
            reason: failure.error.reason,
            key,
            table,
        }
    }
}

/// The source plus its parsed (and expanded) tree, for locating keys.
struct Document<'a> {
    source: Source<'a>,
    tree: DeTable<'a>,
}

impl Document<'_> {
    /// Each `[sinks.NAME]` table, deserialized as the type its `type` key names.
    fn sinks(&self, sinks: Spanned<DeValue<'_>>) -> Result<BTreeMap<String, SinkConfig>, ConfigError> {
        let span = sinks.span();
        let DeValue::Table(table) = sinks.into_inner() else {
            return Err(self.invalid(
                span,
                &["sinks".to_owned()],
                "invalid value for key \"sinks\" at the top level: expected tables such as [sinks.console]",
            ));
        };
        let valid_types: Vec<String> = SinkConfig::TYPES.iter().map(|&t| t.to_owned()).collect();
        let mut out = BTreeMap::new();
        for (name, body) in table {
            let name = name.into_inner().into_owned();
            let path = vec!["sinks".to_owned(), name.clone()];
            let body_span = body.span();
            let DeValue::Table(mut fields) = body.into_inner() else {
                let message =
                    format!("invalid value for key {name:?} in [sinks]: expected a table with a \"type\" key");
                return Err(self.invalid(body_span, &path, message));
            };
            let Some(kind) = fields.remove("type") else {
                let message = format!(
                    "missing required key \"type\" {}; valid types: {}",
                    Table::new(&path),
                    quoted(&valid_types)
                );
                return Err(self.invalid(body_span, &path, message));
            };
            let kind_span = kind.span();
            let kind = match kind.into_inner() {
                DeValue::String(kind) => kind.into_owned(),
                other => {
                    let message = format!(
                        "invalid value for key \"type\" {}: expected a string, found {}; valid types: {}",
                        Table::new(&path),
                        other.type_str(),
                        quoted(&valid_types)
                    );
                    return Err(self.invalid(kind_span, &[path, vec!["type".to_owned()]].concat(), message));
                }
            };
            let body = ValueDeserializer::from(Spanned::new(body_span, DeValue::Table(fields)));
            match SinkConfig::from_body(&kind, body) {
                Some(Ok(sink)) => {
                    out.insert(name, sink);
                }
                Some(Err(e)) => return Err(self.de_error(&e)),
                None => {
                    return Err(ConfigError::UnknownSinkType {
                        at: self.source.at(Some(kind_span)),
                        suggestion: closest(&kind, &valid_types),
                        found: kind,
                        table: Table::new(&path),
                        valid: valid_types.into(),
                    });
                }
            }
        }
        Ok(out)
    }

    /// Turns a serde error into a message at the key it concerns.
    fn de_error(&self, e: &toml::de::Error) -> ConfigError {
        let message = e.message();
        let hit = e.span().and_then(|span| locate::by_span(&self.tree, &span));
        let hit_path = hit.as_ref().map(|h| h.path.clone()).unwrap_or_default();

        if let Some(key) = first_backticked(message, "unknown field `") {
            // The span is the key itself, except when serde buffered the table (an internally
            // tagged enum): then it is the table, and the key is looked up inside it.
            let (path, span) = match &hit {
                Some(h) if h.on_key => (h.path.clone(), h.key_span.clone()),
                _ => locate::find_key(&self.tree, &hit_path, &key)
                    .unwrap_or_else(|| ([hit_path.clone(), vec![key.clone()]].concat(), e.span().unwrap_or(0..0))),
            };
            let valid = backticked(message, "expected");
            let (key, table) = split(&path);
            return ConfigError::UnknownKey {
                at: self.source.at(Some(span)),
                suggestion: closest(&key, &valid),
                key,
                table,
                valid: valid.into(),
            };
        }
        if let Some(key) = first_backticked(message, "missing field `") {
            return ConfigError::MissingKey { at: self.source.at(e.span()), key, table: Table::new(&hit_path) };
        }
        let Some(hit) = hit else {
            return ConfigError::Invalid {
                at: self.source.at(e.span()),
                key: String::new(),
                message: message.to_owned(),
            };
        };
        let problem = if let Some(found) = first_backticked(message, "unknown variant `") {
            let valid = backticked(message, "expected");
            match closest(&found, &valid) {
                Some(s) => format!("unknown value {found:?}; did you mean {s:?}?"),
                None => format!("unknown value {found:?}; valid values: {}", quoted(&valid)),
            }
        } else {
            plain_words(message)
        };
        let (key, table) = split(&hit.path);
        let message = format!("invalid value for key {key:?} {table}: {problem}");
        ConfigError::Invalid { at: self.source.at(Some(hit.value_span)), key: table.key_path(&key), message }
    }

    /// A broken rule, at the line of its key when that is written.
    fn violation(&self, v: Violation) -> ConfigError {
        let span = locate::by_path(&self.tree, &v.path, v.item);
        let key = match v.path.split_last() {
            Some((last, parents)) => Table::new(parents).key_path(last),
            None => String::new(),
        };
        ConfigError::Invalid { at: self.source.at(span), key, message: v.message }
    }

    fn invalid(&self, span: Range<usize>, path: &[String], message: impl Into<String>) -> ConfigError {
        let key = match path.split_last() {
            Some((last, parents)) => Table::new(parents).key_path(last),
            None => String::new(),
        };
        ConfigError::Invalid { at: self.source.at(Some(span)), key, message: message.into() }
    }
}

/// The last part of `path` and the table holding it.
fn split(path: &[String]) -> (String, Table) {
    match path.split_last() {
        Some((key, table)) => (key.clone(), Table::new(table)),
        None => (String::new(), Table::default()),
    }
}

/// The text between the backticks that `prefix` opens, when `message` starts with `prefix`.
fn first_backticked(message: &str, prefix: &str) -> Option<String> {
    message.strip_prefix(prefix)?.split('`').next().map(str::to_owned)
}

/// serde's type names in the words an operator uses.
fn plain_words(message: &str) -> String {
    let mut text = message.to_owned();
    for (from, to) in [
        ("expected usize", "expected a non-negative integer"),
        ("expected u64", "expected a non-negative integer"),
        ("expected u32", "expected a non-negative integer"),
        ("expected u16", "expected a non-negative integer"),
        ("expected u8", "expected a non-negative integer"),
        ("expected f64", "expected a number"),
        ("expected a sequence", "expected an array"),
        ("expected a map", "expected a table"),
        ("expected struct ", "expected a table "),
    ] {
        text = text.replace(from, to);
    }
    if text.contains("socket address") {
        text.push_str("; write it like \"127.0.0.1:8125\"");
    }
    text
}

/// toml's parse error message on one line.
fn syntax_message(e: &toml::de::Error) -> String {
    e.message().trim().replace('\n', "; ")
}
