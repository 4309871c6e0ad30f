//! The config loader on arbitrary text: TOML, `${ENV}` expansion, deserialization and
//! validation, with a fixed environment and no file or network access.

use std::env::VarError;

use crate::config::{parse_api_listen, parse_with_env};

/// The origin every error message must start with.
const ORIGIN: &str = "fuzz.toml";

/// The environment the fuzzed files see: a few set variables (one holding TOML syntax, which
/// must stay inert), one that is not UTF-8; every other name is unset.
fn lookup(name: &str) -> Result<String, VarError> {
    match name {
        "HOST" => Ok("127.0.0.1".to_owned()),
        "ADDR" => Ok("127.0.0.1:8125".to_owned()),
        "EMPTY" => Ok(String::new()),
        "TRICKY" => Ok("\"]\n[sinks.x]\ntype = \"console\" ${ADDR} $${".to_owned()),
        "NOT_UTF8" => Err(VarError::NotUnicode(std::ffi::OsString::from("\u{fffd}"))),
        _ => Err(VarError::NotPresent),
    }
}

/// Loads `bytes` (lossily as UTF-8, as an editor would show them) as a config file and checks
/// the loader's promises: a loaded config passes `validate` again, and every error is a
/// message that starts at `file:line:column`.
pub fn config_text(bytes: &[u8]) {
    let text = String::from_utf8_lossy(bytes);
    match parse_with_env(&text, ORIGIN, &lookup) {
        Ok(config) => {
            assert_eq!(config.validate(), Ok(()), "a loaded config passes validate");
            for sink in config.sinks.values() {
                let _ = (sink.kind(), sink.buffer(), sink.retry());
            }
        }
        Err(e) => check_message(&e.to_string()),
    }
    if let Err(e) = parse_api_listen(&text, ORIGIN) {
        check_message(&e.to_string());
    }
}

fn check_message(message: &str) {
    assert!(message.starts_with(ORIGIN), "an error starts with where it is: {message}");
}
