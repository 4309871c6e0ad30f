//! The configuration: TOML schema, human units and the loader with its error messages.

mod load;
mod schema;
mod units;

pub use load::{ConfigError, DEFAULT_CONFIG, load, parse};
pub use schema::{AgentConfig, ApiConfig, Config, LogConfig, LogFormat, SinkConfig, SourcesConfig, StatsdConfig};
pub use units::{ByteSize, Duration};
