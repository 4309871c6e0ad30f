//! The configuration: TOML schema, human units, `${ENV}` expansion, validation rules and the
//! loader with its error messages.

mod env;
mod error;
mod load;
mod locate;
mod schema;
mod validate;

#[cfg(test)]
mod tests;

pub use backends::units::{ByteSize, Duration};
pub use error::{ConfigError, Location, Table};
pub(crate) use load::parse_with_env;
pub use load::{DEFAULT_CONFIG, DEFAULT_ORIGIN, api_config, expand_env, load, parse, parse_api, parse_api_listen};
pub use schema::{
    AgentConfig, AlertingConfig, ApiConfig, ApiTlsConfig, AttributeRules, AuthConfig, BasicAuth, Config,
    DEFAULT_EXCLUDE_FSTYPES, FileProbe, HostConfig, HttpProbe, InternalConfig, JwtAlgorithm, JwtConfig, LogConfig,
    LogFormat, OtlpConfig, ProbeConfig, ProbeTiming, RuleConfig, ScrapeConfig, SinkConfig, SourcesConfig, StatsdConfig,
    TcpProbe, TokenEntry,
};
pub use validate::{MAX_SOCKET_PATH_BYTES, MIN_FLUSH_INTERVAL, MIN_TOKEN_BYTES, Violation};
