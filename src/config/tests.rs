//! The loader's behaviour as an operator sees it: exact messages, lines and suggestions.

use std::collections::HashMap;
use std::env::VarError;
use std::path::PathBuf;

use super::load::parse_with_env;
use backends::delivery::{BufferType, Fsync, WhenFull};

use super::{ByteSize, Config, ConfigError, DEFAULT_CONFIG, Duration, SinkConfig, parse};

/// A source and a sink: the smallest file that validates. Two lines, so a key added after
/// it is on line 3 or later.
const BASE: &str = "sources.statsd.udp = [\"127.0.0.1:8125\"]\nsinks.out.type = \"console\"\n";

fn parse_env(text: &str, vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
    let vars: HashMap<String, String> = vars.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
    parse_with_env(text, "sluice.toml", &|name| vars.get(name).cloned().ok_or(VarError::NotPresent))
}

/// The message printed for `text`, which must be refused.
fn error(text: &str) -> String {
    match parse_env(text, &[]) {
        Ok(config) => panic!("accepted {text:?} as {config:?}"),
        Err(e) => e.to_string(),
    }
}

fn line_of(e: &ConfigError) -> Option<u32> {
    match e {
        ConfigError::Syntax { at, .. }
        | ConfigError::UnknownKey { at, .. }
        | ConfigError::MissingKey { at, .. }
        | ConfigError::UnknownSinkType { at, .. }
        | ConfigError::Variable { at, .. }
        | ConfigError::Invalid { at, .. } => at.line(),
        _ => None,
    }
}

// --- unknown keys ---

/// A misspelt key in `[agent]` names its line and column and the key that was meant.
#[test]
fn unknown_key_in_agent_names_line_and_closest_key() {
    let text = format!("{BASE}\n[agent]\nmax_series = 10\nflush_intervl = \"10s\"\n");
    assert_eq!(
        error(&text),
        r#"sluice.toml:6:1: unknown key "flush_intervl" in [agent]; did you mean "flush_interval"?"#
    );
}

/// The error is typed: the key, its table and the suggestion can be read without parsing text.
#[test]
fn unknown_key_error_carries_key_table_and_suggestion() {
    let text = format!("{BASE}[agent]\nhostnme = \"web-1\"\n");
    let Err(ConfigError::UnknownKey { at, key, table, suggestion, valid }) = parse_env(&text, &[]) else {
        panic!("expected an unknown key");
    };
    assert_eq!((at.line(), key.as_str(), suggestion.as_deref()), (Some(4), "hostnme", Some("hostname")));
    assert_eq!(table.to_string(), "in [agent]");
    assert!(valid.iter().any(|k| k == "flush_interval"), "{valid:?}");
}

/// A key far from every valid one lists the valid keys instead of guessing.
#[test]
fn unknown_top_level_key_without_close_match_lists_valid_keys() {
    let text = format!("{BASE}zzz = 1\n");
    assert_eq!(
        error(&text),
        r#"sluice.toml:3:1: unknown key "zzz" at the top level; valid keys: "agent", "api", "log", "sources", "sinks", "mappings", "rules", "alerting""#
    );
}

/// A misspelt top-level table is caught with its suggestion.
#[test]
fn unknown_top_level_table_suggests_the_real_one() {
    let text = format!("{BASE}[agnet]\nflush_interval = \"10s\"\n");
    assert_eq!(error(&text), r#"sluice.toml:3:2: unknown key "agnet" at the top level; did you mean "agent"?"#);
}

/// A misspelt key in `[sources.statsd]` is found at its line.
#[test]
fn unknown_key_in_statsd_names_line_and_closest_key() {
    let text = "[sources.statsd]\nudp = [\"127.0.0.1:8125\"]\npercentile = [50]\n\n[sinks.out]\ntype = \"console\"\n";
    assert_eq!(
        error(text),
        r#"sluice.toml:3:1: unknown key "percentile" in [sources.statsd]; did you mean "percentiles"?"#
    );
}

/// A misspelt key inside a sink (an internally tagged table) still names its own line.
#[test]
fn unknown_key_in_sink_names_its_own_line() {
    let text = "sources.statsd.udp = [\"127.0.0.1:8125\"]\n\n[sinks.log]\ntype = \"file\"\npath = \"/tmp/w\"\npaht = \"/tmp/x\"\n";
    assert_eq!(error(text), r#"sluice.toml:6:1: unknown key "paht" in [sinks.log]; did you mean "path"?"#);
}

/// A misspelt key in a sink's `[sinks.NAME.buffer]` table names that table and line.
#[test]
fn unknown_key_in_sink_buffer_names_its_own_line() {
    let text = "sources.statsd.udp = [\"127.0.0.1:8125\"]\n[sinks.out]\ntype = \"console\"\n\n[sinks.out.buffer]\nmax_window = 10\n";
    assert_eq!(
        error(text),
        r#"sluice.toml:6:1: unknown key "max_window" in [sinks.out.buffer]; did you mean "max_windows"?"#
    );
}

/// An unknown key in an inline sink table is located too.
#[test]
fn unknown_key_in_inline_sink_table_is_located() {
    let text = "sources.statsd.udp = [\"127.0.0.1:8125\"]\nsinks.out = { type = \"console\", bufer = {} }\n";
    assert_eq!(error(text), r#"sluice.toml:2:33: unknown key "bufer" in [sinks.out]; did you mean "buffer"?"#);
}

// --- sink types ---

/// A misspelt sink `type` suggests the right one and lists every valid type.
#[test]
fn unknown_sink_type_lists_valid_types() {
    let text = "sources.statsd.udp = [\"127.0.0.1:8125\"]\n[sinks.out]\ntype = \"consol\"\n";
    assert_eq!(
        error(text),
        r#"sluice.toml:3:8: unknown sink type "consol" in [sinks.out]; did you mean "console"? Valid types: "console", "file", "pushgateway", "prometheus_remote_write", "prometheus_exporter", "textfile", "influxdb", "statsd", "cloudwatch", "datadog""#
    );
}

/// A sink without `type` is refused at its header with the valid types.
#[test]
fn sink_without_type_is_refused_with_valid_types() {
    let text = "sources.statsd.udp = [\"127.0.0.1:8125\"]\n\n[sinks.out]\npath = \"/tmp/x\"\n";
    assert_eq!(
        error(text),
        r#"sluice.toml:3:1: missing required key "type" in [sinks.out]; valid types: "console", "file", "pushgateway", "prometheus_remote_write", "prometheus_exporter", "textfile", "influxdb", "statsd", "cloudwatch", "datadog""#
    );
}

/// A file sink without `path` names the missing key and the sink's header line.
#[test]
fn file_sink_without_path_names_the_missing_key() {
    let text = "sources.statsd.udp = [\"127.0.0.1:8125\"]\n\n[sinks.log]\ntype = \"file\"\n";
    assert_eq!(error(text), r#"sluice.toml:3:1: missing required key "path" in [sinks.log]"#);
}

/// Every listed sink type deserializes through `from_body` and reports itself as that type.
#[test]
fn every_sink_type_is_known_to_the_loader() {
    for kind in SinkConfig::TYPES {
        let body = match *kind {
            "file" => "path = \"/tmp/x\"\n",
            "pushgateway" => "url = \"http://127.0.0.1:9091\"\n",
            "prometheus_remote_write" => "url = \"http://127.0.0.1:9090/api/v1/write\"\n",
            "influxdb" => "url = \"http://127.0.0.1:8086\"\ndatabase = \"m\"\n",
            "statsd" => "address = \"127.0.0.1:8135\"\n",
            "cloudwatch" => "region = \"us-east-1\"\nnamespace = \"Sluice\"\n",
            "datadog" => "api_key = \"k\"\n",
            "prometheus_exporter" => "listen = \"127.0.0.1:9464\"\n",
            "textfile" => "path = \"/var/lib/node-exporter/sluice.prom\"\n",
            _ => "",
        };
        let text = format!("sources.statsd.udp = [\"127.0.0.1:8125\"]\n[sinks.x]\ntype = \"{kind}\"\n{body}");
        let config = parse_env(&text, &[]).unwrap_or_else(|e| panic!("{kind}: {e}"));
        assert_eq!(config.sinks["x"].kind(), *kind);
    }
}

// --- wrong types and bad values ---

/// A string where a number belongs names key, table and line, in plain words.
#[test]
fn wrong_type_names_key_and_line() {
    let text = format!("{BASE}[agent]\nmax_series = \"lots\"\n");
    assert_eq!(
        error(&text),
        r#"sluice.toml:4:14: invalid value for key "max_series" in [agent]: invalid type: string "lots", expected a non-negative integer"#
    );
}

/// A wrong type inside a sink is located at the value, not at the sink's header.
#[test]
fn wrong_type_in_sink_buffer_names_its_line() {
    let text =
        "sources.statsd.udp = [\"127.0.0.1:8125\"]\n[sinks.out]\ntype = \"console\"\nbuffer.max_windows = \"ten\"\n";
    assert_eq!(
        error(text),
        r#"sluice.toml:4:22: invalid value for key "max_windows" in [sinks.out.buffer]: invalid type: string "ten", expected a non-negative integer"#
    );
}

/// A duration without a unit names the key and says how to write one.
#[test]
fn bad_duration_names_key_and_line() {
    let text = format!("{BASE}\n[agent]\nflush_interval = \"10\"\n");
    assert_eq!(
        error(&text),
        r#"sluice.toml:5:18: invalid value for key "flush_interval" in [agent]: invalid duration "10" (time unit needed, for example 10sec or 10ms); write it like "10s" or "1m30s""#
    );
}

/// A size with an unknown unit names the key and says how to write one.
#[test]
fn bad_size_names_key_and_line() {
    let text =
        "[sources.statsd]\nudp = [\"127.0.0.1:8125\"]\nreceive_buffer = \"8 MeB\"\n[sinks.out]\ntype = \"console\"\n";
    assert_eq!(
        error(text),
        r#"sluice.toml:3:18: invalid value for key "receive_buffer" in [sources.statsd]: invalid size "8 MeB"; write it like "8MiB" or "512kB""#
    );
}

/// An address that does not parse points at the array item and says how to write one.
#[test]
fn bad_address_names_key_and_line() {
    let text = "[sources.statsd]\nudp = [\"127.0.0.1:8125\", \"localhost\"]\n[sinks.out]\ntype = \"console\"\n";
    assert_eq!(
        error(text),
        r#"sluice.toml:2:26: invalid value for key "udp" in [sources.statsd]: invalid socket address syntax; write it like "127.0.0.1:8125""#
    );
}

/// An enum value with a typo suggests the valid one.
#[test]
fn unknown_enum_value_suggests_the_valid_one() {
    let text = format!("{BASE}[log]\nformat = \"jsn\"\n");
    assert_eq!(
        error(&text),
        r#"sluice.toml:4:10: invalid value for key "format" in [log]: unknown value "jsn"; did you mean "json"?"#
    );
}

/// Broken TOML is reported with its line as a syntax error.
#[test]
fn syntax_error_names_the_line() {
    let e = parse_env(&format!("{BASE}[agent\n"), &[]).unwrap_err();
    assert!(matches!(e, ConfigError::Syntax { .. }), "{e}");
    assert_eq!(line_of(&e), Some(3), "{e}");
    assert!(e.to_string().starts_with("sluice.toml:3:"), "{e}");
}

// --- ${ENV} expansion ---

/// A set variable is substituted into a string value.
#[test]
fn env_variable_is_expanded_in_string_values() {
    let text = "sources.statsd.udp = [\"${HOST}:8125\"]\n[agent]\nhostname = \"web-${N}\"\n[sinks.log]\ntype = \"file\"\npath = \"${DIR}/w.jsonl\"\n";
    let config = parse_env(text, &[("HOST", "127.0.0.1"), ("N", "7"), ("DIR", "/var/tmp")]).unwrap();
    assert_eq!(config.agent.hostname.as_deref(), Some("web-7"));
    assert_eq!(config.sources.statsd.unwrap().udp[0].to_string(), "127.0.0.1:8125");
    let SinkConfig::File(file) = &config.sinks["log"] else { panic!("not a file sink") };
    assert_eq!(file.path, PathBuf::from("/var/tmp/w.jsonl"));
}

/// An unset variable is refused, naming the variable, the key and the line of the reference.
#[test]
fn unset_env_variable_names_variable_key_and_line() {
    let text =
        "sources.statsd.udp = [\"127.0.0.1:8125\"]\n\n[sinks.log]\ntype = \"file\"\npath = \"${LOG_DIR}/w.jsonl\"\n";
    assert_eq!(
        error(text),
        r#"sluice.toml:5:9: environment variable "LOG_DIR" is not set (used by key "path" in [sinks.log]); set it, or write "$${" for a literal "${""#
    );
}

/// `$${` is a literal `${`, and a lone `$` is kept.
#[test]
fn escaped_env_reference_is_literal() {
    let text = format!("{BASE}[agent]\nhostname = \"$${{HOST}}-$5\"\n");
    let config = parse_env(&text, &[("HOST", "unused")]).unwrap();
    assert_eq!(config.agent.hostname.as_deref(), Some("${HOST}-$5"));
}

/// A reference in a comment is not expanded, so an unset variable there is no error, and
/// later errors keep their line numbers.
#[test]
fn env_reference_in_comment_is_ignored_and_lines_stay_right() {
    let text =
        format!("# api_key = \"${{UNSET}}\"\n{BASE}[agent]\nhostname = \"${{H}}\"  # ${{UNSET}}\nmax_sries = 1\n");
    assert_eq!(
        parse_env(&text, &[("H", "a\nvery\nlong\nname")]).unwrap_err().to_string(),
        r#"sluice.toml:6:1: unknown key "max_sries" in [agent]; did you mean "max_series"?"#
    );
}

/// A reference without its closing brace is refused as malformed.
#[test]
fn unterminated_env_reference_is_refused() {
    let text = format!("{BASE}[agent]\nhostname = \"${{HOST\"\n");
    let e = parse_env(&text, &[]).unwrap_err();
    assert!(matches!(e, ConfigError::Variable { .. }), "{e}");
    assert!(e.to_string().starts_with(r#"sluice.toml:4:13: environment variable "HOST" is malformed"#), "{e}");
}

/// The public `parse` reads the process environment (PATH is set wherever tests run).
#[test]
fn parse_reads_the_process_environment() {
    let text = format!("{BASE}[agent]\nhostname = \"${{PATH}}\"\n");
    let config = parse(&text, "sluice.toml").unwrap();
    assert_eq!(config.agent.hostname, std::env::var("PATH").ok());
}

// --- semantic rules ---

/// A percentile of 0 or above 100 is refused at the line of the key.
#[test]
fn percentile_out_of_range_is_refused() {
    for bad in ["0", "100.5", "-1"] {
        let text = format!(
            "[sources.statsd]\nudp = [\"127.0.0.1:8125\"]\npercentiles = [50, {bad}]\n[sinks.out]\ntype = \"console\"\n"
        );
        let shown = bad.parse::<f64>().unwrap();
        assert_eq!(
            error(&text),
            format!(
                "sluice.toml:3:20: invalid value for key \"percentiles\" in [sources.statsd]: {shown} is not a percentile; each must be greater than 0 and at most 100"
            )
        );
    }
}

/// 100 itself is a valid percentile (the maximum).
#[test]
fn percentile_of_100_is_accepted() {
    let text =
        "[sources.statsd]\nudp = [\"127.0.0.1:8125\"]\npercentiles = [99.9, 100]\n[sinks.out]\ntype = \"console\"\n";
    assert_eq!(parse_env(text, &[]).unwrap().sources.statsd.unwrap().percentiles, vec![99.9, 100.0]);
}

/// A percentile listed twice is refused.
#[test]
fn duplicate_percentile_is_refused() {
    let text =
        "[sources.statsd]\nudp = [\"127.0.0.1:8125\"]\npercentiles = [90, 90]\n[sinks.out]\ntype = \"console\"\n";
    assert_eq!(
        error(text),
        "sluice.toml:3:20: invalid value for key \"percentiles\" in [sources.statsd]: 90 is listed twice"
    );
}

/// Buckets must be strictly increasing.
#[test]
fn non_increasing_buckets_are_refused() {
    let text =
        "[sources.statsd]\nudp = [\"127.0.0.1:8125\"]\nbuckets = [10, 50, 50]\n[sinks.out]\ntype = \"console\"\n";
    assert_eq!(
        error(text),
        "sluice.toml:3:20: invalid value for key \"buckets\" in [sources.statsd]: 50 does not exceed the bound before it; bounds must be strictly increasing"
    );
}

/// An infinite bucket bound is refused (the +Inf bucket is implicit).
#[test]
fn infinite_bucket_is_refused() {
    let text = "[sources.statsd]\nudp = [\"127.0.0.1:8125\"]\nbuckets = [10, inf]\n[sinks.out]\ntype = \"console\"\n";
    assert_eq!(
        error(text),
        "sluice.toml:3:16: invalid value for key \"buckets\" in [sources.statsd]: inf is not a finite bucket bound"
    );
}

/// A window shorter than a second is refused.
#[test]
fn flush_interval_below_one_second_is_refused() {
    let text = format!("{BASE}[agent]\nflush_interval = \"500ms\"\n");
    assert_eq!(
        error(&text),
        "sluice.toml:4:1: invalid value for key \"flush_interval\" in [agent]: 500ms is shorter than the minimum of 1s"
    );
}

/// A series cap of zero would refuse every sample, so it is refused.
#[test]
fn zero_max_series_is_refused() {
    let text = format!("{BASE}[agent]\nmax_series = 0\n");
    assert_eq!(error(&text), "sluice.toml:4:1: invalid value for key \"max_series\" in [agent]: must be at least 1");
}

/// A UDP address listed twice is refused at the second one.
#[test]
fn duplicate_udp_address_is_refused() {
    let text = "[sources.statsd]\nudp = [\"127.0.0.1:8125\", \"127.0.0.1:8125\"]\n[sinks.out]\ntype = \"console\"\n";
    assert_eq!(
        error(text),
        "sluice.toml:2:26: invalid value for key \"udp\" in [sources.statsd]: 127.0.0.1:8125 is listed twice"
    );
}

/// One path cannot be both a datagram and a stream socket.
#[test]
fn unix_path_shared_by_two_listeners_is_refused() {
    let text = "[sources.statsd]\nunix = [\"/run/sluice/s.sock\"]\nunix_stream = [\"/run/sluice/s.sock\"]\n[sinks.out]\ntype = \"console\"\n";
    assert_eq!(
        error(text),
        "sluice.toml:3:16: invalid value for key \"unix_stream\" in [sources.statsd]: /run/sluice/s.sock is already used by another Unix listener"
    );
}

/// A socket path longer than `sun_path` allows is refused before bind would fail.
#[test]
fn overlong_unix_socket_path_is_refused() {
    let long = format!("/run/{}", "x".repeat(110));
    let text = format!("[sources.statsd]\nunix = [\"{long}\"]\n[sinks.out]\ntype = \"console\"\n");
    assert!(error(&text).contains("is 115 bytes long; a Unix socket path holds at most 107"), "{}", error(&text));
}

/// `socket_mode` must be octal and at most 0777.
#[test]
fn bad_socket_mode_is_refused() {
    for bad in ["0668", "01777", "rw-rw----", ""] {
        let text = format!(
            "[sources.statsd]\nunix = [\"/run/s.sock\"]\nsocket_mode = \"{bad}\"\n[sinks.out]\ntype = \"console\"\n"
        );
        assert_eq!(
            error(&text),
            format!(
                "sluice.toml:3:1: invalid value for key \"socket_mode\" in [sources.statsd]: {bad:?} is not an octal file mode up to 0777; write it like \"0660\""
            )
        );
    }
}

/// Octal modes are read as octal, with or without a leading `0` or `0o`.
#[test]
fn socket_mode_is_read_as_octal() {
    for (text, bits) in [("0660", 0o660), ("600", 0o600), ("0o777", 0o777)] {
        let statsd = super::StatsdConfig { socket_mode: text.to_owned(), ..default_statsd() };
        assert_eq!(statsd.socket_mode_bits(), Some(bits), "{text}");
    }
}

/// A sink name outside `[a-zA-Z0-9_-]` is refused.
#[test]
fn bad_sink_name_is_refused() {
    let text = "sources.statsd.udp = [\"127.0.0.1:8125\"]\n[sinks.\"my sink\"]\ntype = \"console\"\n";
    assert_eq!(
        error(text),
        "sluice.toml:2:8: invalid sink name \"my sink\" in [sinks]: use only letters, digits, \"_\" and \"-\""
    );
}

/// An empty sink name is refused.
#[test]
fn empty_sink_name_is_refused() {
    let text = "sources.statsd.udp = [\"127.0.0.1:8125\"]\n[sinks.\"\"]\ntype = \"console\"\n";
    assert!(error(text).starts_with("sluice.toml:2:8: invalid sink name \"\""), "{}", error(text));
}

/// A scrape endpoint on the API's port is refused at its `listen` line: the API's `/metrics`
/// is the agent's own telemetry, never the application series.
#[test]
fn a_scrape_endpoint_on_the_apis_address_is_refused() {
    let text = format!(
        "{BASE}[api]\nlisten = \"127.0.0.1:9102\"\n[sinks.scrape]\ntype = \"prometheus_exporter\"\nlisten = \"0.0.0.0:9102\"\n"
    );
    assert_eq!(
        error(&text),
        r#"sluice.toml:7:1: invalid value for key "listen" in [sinks.scrape]: 0.0.0.0:9102 is already used by [api] listen; give this sink a port of its own"#
    );
}

/// Two scrape endpoints on one address are refused at the second one's `listen`.
#[test]
fn two_scrape_endpoints_on_one_address_are_refused() {
    let sink = |name: &str| format!("[sinks.{name}]\ntype = \"prometheus_exporter\"\nlisten = \"127.0.0.1:9464\"\n");
    let text = format!("{BASE}{}{}", sink("a"), sink("b"));
    assert_eq!(
        error(&text),
        r#"sluice.toml:8:1: invalid value for key "listen" in [sinks.b]: 127.0.0.1:9464 is already used by [sinks.a] listen; give this sink a port of its own"#
    );
}

/// A scrape endpoint on the OTLP receiver's address is refused at the sink's `listen` line.
#[test]
fn a_scrape_endpoint_on_the_otlp_receivers_address_is_refused() {
    let text = format!(
        "{BASE}[sources.otlp]\nlisten = \"127.0.0.1:4318\"\n[sinks.scrape]\ntype = \"prometheus_exporter\"\nlisten = \"127.0.0.1:4318\"\n"
    );
    assert_eq!(
        error(&text),
        r#"sluice.toml:7:1: invalid value for key "listen" in [sinks.scrape]: 127.0.0.1:4318 is already used by [sources.otlp] listen; give this sink a port of its own"#
    );
}

/// A file without any sink would aggregate into nothing, so it is refused.
#[test]
fn config_without_sink_is_refused() {
    assert_eq!(
        error("[sources.statsd]\nudp = [\"127.0.0.1:8125\"]\n"),
        "sluice.toml: no sink configured: every window would be aggregated into nothing; add a sink such as [sinks.console] with type = \"console\""
    );
}

/// A file without any source is refused.
#[test]
fn config_without_source_is_refused() {
    assert_eq!(
        error("[sinks.out]\ntype = \"console\"\n"),
        "sluice.toml: no source configured: add a [sources.statsd] table with a listener such as udp = \
         [\"127.0.0.1:8125\"], a [sources.host], [sources.otlp] or [sources.internal] table, or a \
         [sources.scrape.NAME] or [sources.probe.NAME] table"
    );
}

/// A statsd table without any listener is refused at its header.
#[test]
fn statsd_without_listener_is_refused() {
    assert_eq!(
        error("[sources.statsd]\npercentiles = [99]\n[sinks.out]\ntype = \"console\"\n"),
        "sluice.toml:1:10: [sources.statsd] has no listener: set at least one of udp, unix or unix_stream"
    );
}

/// A sink buffer holding no window is refused.
#[test]
fn zero_buffer_is_refused() {
    let text = "sources.statsd.udp = [\"127.0.0.1:8125\"]\n[sinks.out]\ntype = \"console\"\nbuffer.max_windows = 0\n";
    assert_eq!(
        error(text),
        "sluice.toml:4:8: invalid value for key \"max_windows\" in [sinks.out.buffer]: must be at least 1"
    );
}

/// A log level with a typo is refused instead of silently logging nothing.
#[test]
fn misspelt_log_level_is_refused() {
    let text = format!("{BASE}[log]\nlevel = \"sluice=debgu\"\n");
    assert!(
        error(&text)
            .starts_with("sluice.toml:4:1: invalid value for key \"level\" in [log]: \"sluice=debgu\" is not a level")
    );
    let text = format!("{BASE}[log]\nlevel = \"warn,sluice=debug\"\n");
    assert_eq!(parse_env(&text, &[]).unwrap().log.level, "warn,sluice=debug");
}

// --- example files ---

/// The embedded default parses, validates and matches what DESIGN.md promises.
#[test]
fn embedded_default_is_valid() {
    let config = parse(DEFAULT_CONFIG, super::DEFAULT_ORIGIN).unwrap();
    assert_eq!(config.agent.flush_interval, Duration::from_secs(10));
    assert_eq!(config.api.listen.to_string(), "127.0.0.1:9102");
    assert_eq!(config.sources.statsd.unwrap().udp[0].to_string(), "127.0.0.1:8125");
    assert_eq!(config.sinks["console"].kind(), "console");
}

/// Every example in `config/` parses and validates (with the variables they reference set).
#[test]
fn every_example_config_is_valid() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("config");
    let mut seen = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "toml") {
            let text = std::fs::read_to_string(&path).unwrap();
            let origin = path.display().to_string();
            parse_with_env(&text, &origin, &|_| Ok("example".to_owned())).unwrap_or_else(|e| panic!("{e}"));
            seen.push(path.file_name().unwrap().to_string_lossy().into_owned());
        }
    }
    seen.sort();
    assert!(seen.len() >= 3, "{seen:?}");
    assert!(seen.contains(&"sluice.toml".to_owned()) && seen.contains(&"default.toml".to_owned()), "{seen:?}");
}

/// The reference `config/sluice.toml` sets every key to its default, so it equals an empty
/// file with the same source and sink.
#[test]
fn reference_config_documents_the_defaults() {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/config/sluice.toml")).unwrap();
    let reference = parse_with_env(&text, "sluice.toml", &|_| Ok(String::new())).unwrap();
    let minimal =
        parse_env("sources.statsd.udp = [\"127.0.0.1:8125\"]\nsinks.console.type = \"console\"\n", &[]).unwrap();
    assert_eq!(reference.agent, minimal.agent);
    assert_eq!(reference.api, minimal.api);
    assert_eq!(reference.log, minimal.log);
    assert_eq!(reference.sources.statsd.unwrap().receive_buffer, ByteSize(8 << 20));
    assert_eq!(reference.sources.host, Some(super::HostConfig::default()), "[sources.host] shows its defaults");
}

/// A host source alone is a valid source, and its interval has the same floor as a window.
#[test]
fn host_source_alone_is_valid_and_its_interval_is_checked() {
    let config = parse_env("[sources.host]\n[sinks.out]\ntype = \"console\"\n", &[]).unwrap();
    assert_eq!(config.sources.host, Some(super::HostConfig::default()));
    assert_eq!(
        error("[sources.host]\ninterval = \"100ms\"\n[sinks.out]\ntype = \"console\"\n"),
        "sluice.toml:2:1: invalid value for key \"interval\" in [sources.host]: 100ms is shorter than the minimum of 1s"
    );
}

/// The internal source alone is a valid source, reads every 10 seconds by default, and its
/// interval has the same floor as a window.
#[test]
fn internal_source_alone_is_valid_and_its_interval_is_checked() {
    let config = parse_env("[sources.internal]\n[sinks.out]\ntype = \"console\"\n", &[]).unwrap();
    assert_eq!(config.sources.internal.unwrap().interval, Duration::from_secs(10));
    assert_eq!(
        error("[sources.internal]\ninterval = \"500ms\"\n[sinks.out]\ntype = \"console\"\n"),
        "sluice.toml:2:1: invalid value for key \"interval\" in [sources.internal]: 500ms is shorter than the minimum of 1s"
    );
}

/// `[api.auth]` takes plain and named tokens from the environment and keeps `/health` and
/// `/ready` public by default.
#[test]
fn api_tokens_come_from_the_environment_and_health_stays_public() {
    let text =
        format!("{BASE}[api.auth]\ntokens = [\"${{SLUICE_API_TOKEN}}\", {{ name = \"ops\", token = \"${{OPS}}\" }}]\n");
    let config =
        parse_env(&text, &[("SLUICE_API_TOKEN", "a-0123456789abcdef"), ("OPS", "b-0123456789abcdef")]).unwrap();
    let auth = config.api.auth.unwrap();
    assert_eq!(auth.public, ["/health", "/ready", "/checks"]);
    assert!(
        matches!(&auth.tokens[1], super::TokenEntry::Named { name, token } if name == "ops" && token.expose() == "b-0123456789abcdef")
    );
}

/// A short token, a name used twice, a public entry that is not a path and a table without
/// any token are each refused at their key.
#[test]
fn unusable_api_tokens_are_refused_at_their_key() {
    let auth = |body: &str| format!("{BASE}[api.auth]\n{body}\n");
    assert_eq!(
        error(&auth("tokens = [\"short\"]")),
        "sluice.toml:4:11: invalid value for key \"tokens\" in [api.auth]: a token must be at least 16 bytes (this one has 5); generate one with `openssl rand -hex 32`"
    );
    let twice =
        "tokens = [{ name = \"a\", token = \"0123456789abcdef\" }, { name = \"a\", token = \"fedcba9876543210\" }]";
    assert!(error(&auth(twice)).ends_with("the name \"a\" is used twice"), "{}", error(&auth(twice)));
    let public = "tokens = [\"0123456789abcdef\"]\npublic = [\"health\"]";
    assert!(error(&auth(public)).contains("\"health\" is not a path"), "{}", error(&auth(public)));
    assert!(error(&auth("")).contains("[api.auth] has no token"), "{}", error(&auth("")));
}

/// Probes of each type take their keys and defaults; an unknown key is refused.
#[test]
fn probes_take_their_keys_and_defaults_and_refuse_unknown_ones() {
    let text = format!(
        "{BASE}[sources.probe.api]\ntype = \"http\"\nurl = \"http://127.0.0.1:8080/health\"\ncritical = true\n\
         [sources.probe.db]\ntype = \"tcp\"\naddress = \"127.0.0.1:5432\"\ninterval = \"30s\"\n\
         [sources.probe.backup]\ntype = \"file\"\npath = \"/var/backups/db.dump\"\nmax_age = \"26h\"\n"
    );
    let config = parse_env(&text, &[]).unwrap();
    let probes = &config.sources.probe;
    let super::ProbeConfig::Http(api) = &probes["api"] else { panic!("{probes:?}") };
    assert_eq!((api.method.as_str(), api.tls_verify, api.timing.critical), ("GET", true, true));
    assert_eq!((api.timing.interval, api.timing.timeout()), (Duration::from_secs(10), Duration::from_secs(5)));
    assert_eq!(probes["db"].timing().timeout(), Duration::from_secs(5));
    assert_eq!(probes["db"].timing().interval, Duration::from_secs(30));
    assert!(!probes["backup"].timing().critical);
    let unknown = format!("{BASE}[sources.probe.api]\ntype = \"http\"\nurl = \"http://x\"\ncritcal = true\n");
    assert!(error(&unknown).contains("critcal"), "{}", error(&unknown));
}

/// A probe's values are checked at their key: a timeout longer than the interval, a URL
/// that is not HTTP, an address without a port, a status that is not one.
#[test]
fn probe_values_are_checked_at_their_key() {
    let probe = |body: &str| format!("{BASE}[sources.probe.p]\n{body}\n");
    let cases = [
        (
            "type = \"tcp\"\naddress = \"127.0.0.1:1\"\ninterval = \"2s\"\ntimeout = \"3s\"",
            "\"timeout\" in [sources.probe.p]: 3s is longer than the interval of 2s",
        ),
        (
            "type = \"http\"\nurl = \"ftp://127.0.0.1/\"",
            "\"url\" in [sources.probe.p]: \"ftp://127.0.0.1/\" is not an http:// or https:// URL",
        ),
        ("type = \"tcp\"\naddress = \"localhost\"", "\"address\" in [sources.probe.p]: \"localhost\" is not host:port"),
        (
            "type = \"http\"\nurl = \"http://x/\"\nexpect_status = [200, 42]",
            "\"expect_status\" in [sources.probe.p]: 42 is not an HTTP status",
        ),
    ];
    for (body, message) in cases {
        assert!(error(&probe(body)).ends_with(message), "{}", error(&probe(body)));
    }
}

/// The embedded default samples the host every 10 seconds, as DESIGN.md promises.
#[test]
fn embedded_default_samples_the_host() {
    let config = parse(DEFAULT_CONFIG, "default").unwrap();
    assert_eq!(config.sources.host.unwrap().interval, Duration::from_secs(10));
}

fn default_statsd() -> super::StatsdConfig {
    parse_env(BASE, &[]).unwrap().sources.statsd.unwrap()
}

/// A sink type far from every valid one lists the valid types without guessing.
#[test]
fn unrelated_sink_type_lists_valid_types_without_guessing() {
    let text = "sources.statsd.udp = [\"127.0.0.1:8125\"]\n[sinks.out]\ntype = \"kafka\"\n";
    assert_eq!(
        error(text),
        r#"sluice.toml:3:8: unknown sink type "kafka" in [sinks.out]; valid types: "console", "file", "pushgateway", "prometheus_remote_write", "prometheus_exporter", "textfile", "influxdb", "statsd", "cloudwatch", "datadog""#
    );
}

/// A buffer `type` that does not exist is refused with the valid values.
#[test]
fn unknown_buffer_type_lists_valid_values() {
    let text = "sources.statsd.udp = [\"127.0.0.1:8125\"]\n[sinks.out]\ntype = \"console\"\n[sinks.out.buffer]\ntype = \"tape\"\n";
    assert_eq!(
        error(text),
        r#"sluice.toml:5:8: invalid value for key "type" in [sinks.out.buffer]: unknown value "tape"; valid values: "memory", "disk""#
    );
}

/// A disk buffer's `fsync` and `when_full` are read, and a bad `fsync` names its key, line
/// and the valid values.
#[test]
fn disk_buffer_reads_fsync_and_when_full() {
    let head = "sources.statsd.udp = [\"127.0.0.1:8125\"]\n[sinks.out]\ntype = \"console\"\n[sinks.out.buffer]\ntype = \"disk\"\n";
    let config = parse_env(&format!("{head}fsync = \"250ms\"\nwhen_full = \"drop_newest\"\n"), &[]).unwrap();
    let buffer = config.sinks["out"].buffer();
    assert_eq!(buffer.kind, BufferType::Disk);
    assert_eq!(buffer.fsync, Fsync::Interval(std::time::Duration::from_millis(250)));
    assert_eq!(buffer.when_full, WhenFull::DropNewest);
    assert_eq!(
        parse_env(&format!("{head}fsync = \"never\"\n"), &[]).unwrap().sinks["out"].buffer().fsync,
        Fsync::Never
    );
    assert_eq!(
        error(&format!("{head}fsync = \"sometimes\"\n")),
        r#"sluice.toml:6:9: invalid value for key "fsync" in [sinks.out.buffer]: invalid fsync policy "sometimes"; valid values: "every_window", "never" or an interval like "1s""#
    );
}

/// A Pushgateway sink with a URL that is not one names the key, its line and the fix.
#[test]
fn pushgateway_sink_with_a_bad_url_names_the_key() {
    let text =
        "sources.statsd.udp = [\"127.0.0.1:8125\"]\n[sinks.pgw]\ntype = \"pushgateway\"\nurl = \"127.0.0.1:9091\"\n";
    assert_eq!(
        error(text),
        "sluice.toml:4:1: invalid value for key \"url\" in [sinks.pgw]: not a URL (relative URL without a base); \
         write it like \"http://127.0.0.1:9091\""
    );
}

/// An `influxdb` sink that mixes the 1.x and 2.x keys, or names neither target, is refused at
/// load with the key (or the table) and its line.
#[test]
fn influxdb_sink_with_mixed_or_missing_target_names_key_and_line() {
    let text = "sources.statsd.udp = [\"127.0.0.1:8125\"]\n[sinks.tsdb]\ntype = \"influxdb\"\nurl = \"http://127.0.0.1:8086\"\ndatabase = \"m\"\ntoken = \"t\"\n";
    assert_eq!(
        error(text),
        "sluice.toml:6:1: invalid value for key \"token\" in [sinks.tsdb]: \"token\" (InfluxDB 2.x) cannot be combined \
         with \"database\" (InfluxDB 1.x); keep either database [retention_policy, username, password] or org, bucket \
         and token"
    );
    let text = "sources.statsd.udp = [\"127.0.0.1:8125\"]\n[sinks.tsdb]\ntype = \"influxdb\"\nurl = \"http://127.0.0.1:8086\"\n";
    assert_eq!(
        error(text),
        "sluice.toml:2:8: missing the target: set \"database\" (InfluxDB 1.x) or \"org\", \"bucket\" and \"token\" \
         (InfluxDB 2.x) in [sinks.tsdb]"
    );
}

/// A statsd sink parses with its defaults, and a sink with no destination names the key.
#[test]
fn statsd_sink_parses_and_requires_a_destination() {
    let text =
        "sources.statsd.udp = [\"127.0.0.1:8125\"]\n[sinks.up]\ntype = \"statsd\"\naddress = \"127.0.0.1:8135\"\n";
    let config = parse_env(text, &[]).unwrap();
    let super::SinkConfig::Statsd(sink) = &config.sinks["up"] else { panic!("{:?}", config.sinks["up"]) };
    assert_eq!(sink.datagram_limit(), 1432);
    assert_eq!(sink.max_samples_per_series, 64);
    assert_eq!(config.sinks["up"].kind(), "statsd");
    let text = "sources.statsd.udp = [\"127.0.0.1:8125\"]\n[sinks.up]\ntype = \"statsd\"\n";
    assert_eq!(
        error(text),
        "sluice.toml:2:8: invalid value for key \"address\" in [sinks.up]: missing: set address = \
         \"127.0.0.1:8125\" (UDP) or unix = \"/path/to/socket\""
    );
}

/// A `cloudwatch` sink with a storage resolution other than 60 or 1 is refused with the key
/// and its line.
#[test]
fn cloudwatch_sink_with_bad_storage_resolution_names_key_and_line() {
    let text = "sources.statsd.udp = [\"127.0.0.1:8125\"]\n[sinks.cw]\ntype = \"cloudwatch\"\nregion = \"us-east-1\"\n\
                namespace = \"Sluice\"\nstorage_resolution = 5\n";
    assert_eq!(
        error(text),
        "sluice.toml:6:1: invalid value for key \"storage_resolution\" in [sinks.cw]: 5 is not allowed: use 60 \
         (standard) or 1 (high resolution)"
    );
}

/// A `datadog` sink with a misspelt site names the key, its line and the closest site; the
/// API key may come from the environment.
#[test]
fn datadog_sink_with_an_unknown_site_names_key_line_and_closest_site() {
    let text = "sources.statsd.udp = [\"127.0.0.1:8125\"]\n[sinks.dd]\ntype = \"datadog\"\napi_key = \"${DD_API_KEY}\"\nsite = \"datadoghq.eu1\"\n";
    let err = parse_env(text, &[("DD_API_KEY", "k")]).unwrap_err().to_string();
    assert!(
        err.starts_with(
            "sluice.toml:5:1: invalid value for key \"site\" in [sinks.dd]: \"datadoghq.eu1\" is not a Datadog site; \
             did you mean \"datadoghq.eu\"?"
        ),
        "{err}"
    );
    let text =
        "sources.statsd.udp = [\"127.0.0.1:8125\"]\n[sinks.dd]\ntype = \"datadog\"\napi_key = \"${DD_API_KEY}\"\n";
    let config = parse_env(text, &[("DD_API_KEY", "secret")]).unwrap();
    let super::SinkConfig::Datadog(sink) = &config.sinks["dd"] else { panic!("{:?}", config.sinks["dd"]) };
    assert_eq!(sink.api_key.as_ref().map(backends::Secret::expose), Some("secret"));
    assert_eq!(sink.base_url(), "https://api.datadoghq.com");
}

/// `sluice status` reads `[api] listen` from a file whose other keys need an environment the
/// operator's shell lacks (`${DD_API_KEY}`) or would not validate: only `[api]` is read.
#[test]
fn api_listen_is_read_without_expanding_or_validating_the_rest() {
    let text = "[api]\nlisten = \"127.0.0.1:9200\"\n[sinks.dd]\ntype = \"datadog\"\napi_key = \"${DD_API_KEY}\"\n\
                [agent]\nflush_interval = \"1ms\"\n";
    assert_eq!(super::parse_api_listen(text, "sluice.toml").unwrap(), "127.0.0.1:9200".parse().unwrap());
}

/// Without `[api]`, or with `[api]` but no `listen`, the default address is used.
#[test]
fn api_listen_defaults_to_the_documented_address() {
    for text in [BASE, "[api]\n"] {
        assert_eq!(super::parse_api_listen(text, "sluice.toml").unwrap(), "127.0.0.1:9102".parse().unwrap());
    }
}

/// A typo or a bad address in `[api]` is refused with its line, as `sluice validate` would.
#[test]
fn api_listen_refuses_a_bad_api_table_with_its_line() {
    let typo = super::parse_api_listen("[agent]\n[api]\nlisten_on = \"127.0.0.1:1\"\n", "sluice.toml").unwrap_err();
    assert_eq!(line_of(&typo), Some(3));
    assert!(typo.to_string().contains("did you mean \"listen\"?"), "{typo}");
    let bad = super::parse_api_listen("[api]\nlisten = \"localhost\"\n", "sluice.toml").unwrap_err();
    assert_eq!(line_of(&bad), Some(2), "{bad}");
}

// --- [[mappings]] ---

/// The `[[mappings]]` example of the design parses and compiles.
#[test]
fn the_design_mapping_example_parses() {
    let text = format!(
        "{BASE}[[mappings]]                              # statsd_exporter-style, for every Prometheus output\nmatch = \"app.*.requests\"\nname = \"app_requests\"\nlabels = {{ server = \"$1\" }}\n"
    );
    let config = parse_env(&text, &[]).unwrap();
    assert_eq!(config.mappings.len(), 1);
    assert_eq!(config.mappings[0].pattern, "app.*.requests");
    assert_eq!(config.compile_mappings().unwrap().len(), 1);
}

/// A broken rule is refused with its `[[mappings]]` index, its key and its line; a bad
/// item of `buckets` is pointed at.
#[test]
fn an_invalid_mapping_rule_names_its_index_key_and_line() {
    let text = format!(
        "{BASE}[[mappings]]\nmatch = \"a.*\"\nname = \"a\"\n\n[[mappings]]\nmatch = \"b.*\"\nname = \"b_$2\"\n"
    );
    assert_eq!(
        error(&text),
        "sluice.toml:9:1: invalid value for key \"name\" in [[mappings]] index 1: \"b_$2\" uses $2 but the pattern has 1 `*`; captures count from $1"
    );
    let text = format!("{BASE}[[mappings]]\nmatch = \"a.*\"\nname = \"a\"\nbuckets = [0.1, 0.05]\n");
    assert_eq!(
        error(&text),
        "sluice.toml:6:17: invalid value for key \"buckets\" in [[mappings]] index 0: 0.05 does not exceed the bound before it; bounds must be strictly increasing"
    );
}

/// A misspelt key inside a `[[mappings]]` entry names its line and the key that was meant.
#[test]
fn unknown_key_in_a_mapping_rule_names_line_and_closest_key() {
    let text = format!("{BASE}[[mappings]]\nmatch = \"a.*\"\nname = \"a\"\nlabel = {{ x = \"$1\" }}\n");
    let message = error(&text);
    assert!(message.starts_with("sluice.toml:6:1: unknown key \"label\""), "{message}");
    assert!(message.contains("did you mean \"labels\"?"), "{message}");
}

/// `${1}` and `${name}` in `[[mappings]]` are captures, not environment variables.
#[test]
fn mapping_captures_are_not_expanded_from_the_environment() {
    let text = format!(
        "{BASE}[[mappings]]\nmatch = '(?P<svc>\\w+)\\.x'\nmatch_type = \"regex\"\nname = \"${{svc}}_x\"\nlabels = {{ s = \"${{svc}}\" }}\n"
    );
    let config = parse_env(&text, &[("svc", "from-env")]).unwrap();
    assert_eq!(config.mappings[0].name.as_deref(), Some("${svc}_x"));
    assert_eq!(config.mappings[0].labels["s"], "${svc}");
}

/// An OTLP receiver alone is a valid source; an empty table takes every default.
#[test]
fn otlp_source_alone_is_valid_with_its_defaults() {
    let config = parse_env("[sources.otlp]\n[sinks.out]\ntype = \"console\"\n", &[]).unwrap();
    let otlp = config.sources.otlp.unwrap();
    assert_eq!(otlp, super::OtlpConfig::default());
    assert_eq!(otlp.listen.to_string(), "127.0.0.1:4318");
    assert_eq!(
        (otlp.max_body_bytes, otlp.max_series, otlp.expire_after),
        (ByteSize(8 << 20), 100_000, Duration::from_secs(600))
    );
    assert_eq!(
        (otlp.resource_attributes.allow, otlp.resource_attributes.deny),
        (vec!["service.name".to_owned()], vec![])
    );
}

/// `[sources.otlp]` values that cannot work are refused, naming the key and its line.
#[test]
fn otlp_source_values_are_checked() {
    let refused = |table: &str| error(&format!("{BASE}[sources.otlp]\n{table}"));
    assert_eq!(
        refused("listen = \"127.0.0.1:9102\"\n"),
        "sluice.toml:4:1: invalid value for key \"listen\" in [sources.otlp]: 127.0.0.1:9102 is the API's \
         [api].listen; the receiver needs an address of its own, such as 127.0.0.1:4318"
    );
    assert_eq!(
        refused("max_body_bytes = 100\n"),
        "sluice.toml:4:1: invalid value for key \"max_body_bytes\" in [sources.otlp]: must be at least 1KiB"
    );
    assert_eq!(
        refused("expire_after = \"500ms\"\n"),
        "sluice.toml:4:1: invalid value for key \"expire_after\" in [sources.otlp]: 500ms is shorter than the minimum of 1s"
    );
    assert_eq!(
        refused("max_series = 0\n"),
        "sluice.toml:4:1: invalid value for key \"max_series\" in [sources.otlp]: must be at least 1"
    );
    assert_eq!(
        refused("[sources.otlp.resource_attributes]\ndeny = [\"ok\", \"*.name\"]\n"),
        "sluice.toml:5:15: invalid value for key \"deny\" in [sources.otlp.resource_attributes]: \"*.name\" is not \
         a pattern; write an attribute key (\"service.name\"), a prefix ending in * (\"service.*\") or \"*\""
    );
    assert!(refused("listne = \"127.0.0.1:4318\"\n").contains("did you mean \"listen\""));
}

/// A scrape source alone is a valid source; every key but `targets` has its default.
#[test]
fn scrape_source_alone_is_valid_with_its_defaults() {
    let text = "[sources.scrape.app]\ntargets = [\"http://127.0.0.1:9100/metrics\"]\n[sinks.out]\ntype = \"console\"\n";
    let config = parse_env(text, &[]).unwrap();
    let app = &config.sources.scrape["app"];
    assert_eq!(app.targets, ["http://127.0.0.1:9100/metrics"]);
    assert_eq!(
        (app.interval, app.timeout, app.max_body_bytes, app.sample_limit, app.max_series, app.expire_after),
        (
            Duration::from_secs(10),
            Duration::from_secs(5),
            ByteSize(16 << 20),
            100_000,
            100_000,
            Duration::from_secs(600)
        )
    );
    assert_eq!((&app.bearer_token_file, &app.basic_auth), (&None, &None));
}

/// `[sources.scrape.NAME]` values that cannot work are refused, naming the key and its line.
#[test]
fn scrape_source_values_are_checked() {
    let refused = |table: &str| error(&format!("{BASE}[sources.scrape.app]\n{table}"));
    let target = "targets = [\"http://127.0.0.1:9100/metrics\"]\n";
    assert_eq!(
        refused("targets = []\n"),
        "sluice.toml:4:1: invalid value for key \"targets\" in [sources.scrape.app]: must list at least one URL, \
         such as \"http://127.0.0.1:9100/metrics\""
    );
    assert_eq!(
        refused("targets = [\"http://a:1/m\", \"ftp://a/m\"]\n"),
        "sluice.toml:4:28: invalid value for key \"targets\" in [sources.scrape.app]: \"ftp://a/m\" has scheme \
         \"ftp\"; write an http:// or https:// URL"
    );
    assert_eq!(
        refused("targets = [\"127.0.0.1:9100\"]\n"),
        "sluice.toml:4:12: invalid value for key \"targets\" in [sources.scrape.app]: \"127.0.0.1:9100\" is not a \
         URL (relative URL without a base)"
    );
    assert_eq!(
        refused("targets = [\"http://a:1/m\", \"http://a:1/m\"]\n"),
        "sluice.toml:4:28: invalid value for key \"targets\" in [sources.scrape.app]: \"http://a:1/m\" is listed twice"
    );
    assert_eq!(
        refused("targets = [\"http://a/m\", \"http://a:80/other\"]\n"),
        "sluice.toml:4:26: invalid value for key \"targets\" in [sources.scrape.app]: \"http://a:80/other\" has the \
         host and port of \"http://a/m\": both would be instance \"a:80\" and their series would merge; put one in a \
         [sources.scrape] table of its own"
    );
    assert_eq!(
        refused(&format!("{target}interval = \"500ms\"\n")),
        "sluice.toml:5:1: invalid value for key \"interval\" in [sources.scrape.app]: 500ms is shorter than the \
         minimum of 1s"
    );
    assert_eq!(
        refused(&format!("{target}interval = \"2s\"\ntimeout = \"3s\"\n")),
        "sluice.toml:6:1: invalid value for key \"timeout\" in [sources.scrape.app]: 3s must be more than 0s and \
         at most the interval (2s)"
    );
    assert_eq!(
        refused(&format!("{target}max_body_bytes = 10\n")),
        "sluice.toml:5:1: invalid value for key \"max_body_bytes\" in [sources.scrape.app]: must be at least 1KiB"
    );
    assert_eq!(
        refused(&format!("{target}sample_limit = 0\n")),
        "sluice.toml:5:1: invalid value for key \"sample_limit\" in [sources.scrape.app]: must be at least 1"
    );
    assert_eq!(
        refused(&format!("{target}max_series = 0\n")),
        "sluice.toml:5:1: invalid value for key \"max_series\" in [sources.scrape.app]: must be at least 1"
    );
    assert_eq!(
        refused(&format!(
            "{target}bearer_token_file = \"/t\"\nbasic_auth = {{ username = \"u\", password_file = \"/p\" }}\n"
        )),
        "sluice.toml:6:1: invalid value for key \"basic_auth\" in [sources.scrape.app]: cannot be used with \
         bearer_token_file: keep one of them"
    );
    assert!(refused("").contains("missing required key \"targets\""), "{}", refused(""));
    assert!(refused(&format!("{target}intreval = \"1s\"\n")).contains("did you mean \"interval\""));
    let bad_name = error(&format!("{BASE}[sources.scrape.\"a b\"]\n{target}"));
    assert!(bad_name.contains("invalid scrape name \"a b\""), "{bad_name}");
}
