//! `sluice status` against a running agent: the summary, the JSON, and the exit status a
//! health check reads.

use crate::common;

use std::process::{Command, Output};

use common::{Agent, Setup, free_tcp};

fn status(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sluice")).arg("status").args(args).output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).unwrap()
}

/// Two healthy sinks: the summary names the listener and each backend, and the exit is 0;
/// `--json` prints the agent's own JSON with the same exit.
#[test]
fn status_prints_each_backend_and_exits_zero_when_all_are_healthy() {
    let agent = Agent::start("[sinks.second]\ntype = \"file\"\npath = \"{dir}/second.jsonl\"\n");
    agent.send_udp(&["a:1|c"]);
    agent.wait_lines(1.0);
    let api = agent.api.to_string();

    let out = status(&["--api", &api]);
    let summary = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{summary}{}", text(&out.stderr));
    assert!(summary.starts_with(&format!("sluice {} at {api}: up ", env!("CARGO_PKG_VERSION"))), "{summary}");
    assert!(summary.contains(&format!("  udp:{}  lines=1 bytes=5 B truncated=0", agent.udp)), "{summary}");
    for backend in ["file", "second"] {
        assert!(
            summary.contains(&format!("  {backend:<6}  starting buffer=memory queue=0 sent=0 series")),
            "{summary}"
        );
    }
    assert!(summary.ends_with("\n2 backends healthy or starting\n"), "{summary}");

    let out = status(&["--api", &api, "--json"]);
    assert_eq!(out.status.code(), Some(0));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["backends"][0]["name"], "file");
    assert_eq!(json["backends"][1]["name"], "second");
    assert_eq!(json["listeners"][0]["lines"], 1);
}

/// Without `--api`, the address is `[api] listen` of the config file, given with `--config`
/// or in `$SLUICE_CONFIG`, as `sluice run` finds it.
#[test]
fn status_finds_the_agent_through_its_config_file() {
    let agent = Agent::start("");
    let config = agent.path("sluice.toml");
    let header = format!("sluice {} at {}: ", env!("CARGO_PKG_VERSION"), agent.api);

    let out = status(&["--config", config.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).starts_with(&header), "{}", text(&out.stdout));

    let out = Command::new(env!("CARGO_BIN_EXE_sluice")).arg("status").env("SLUICE_CONFIG", &config).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).starts_with(&header), "{}", text(&out.stdout));
}

/// An InfluxDB sink whose server is down: once a write has failed, the summary shows it
/// failing with its last error and queued window, and the exit is 1.
#[test]
fn status_exits_one_when_a_backend_is_failing() {
    let closed = free_tcp();
    let sink = format!(
        "[sinks.influx]\ntype = \"influxdb\"\nurl = \"http://{closed}\"\ndatabase = \"metrics\"\n\
         [sinks.influx.retry]\ninitial_backoff = \"100ms\"\nmax_backoff = \"200ms\"\n"
    );
    let agent = Setup { flush_interval: "1s", ..Setup::default() }.start(&sink);
    agent.send_udp(&["a:1|c"]);
    agent.wait_metric("sluice_backend_errors_total{backend=\"influx\",class=\"retriable\"}", 1.0);

    let out = status(&["--api", &agent.api.to_string()]);
    let summary = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{summary}{}", text(&out.stderr));
    assert!(summary.contains("  influx  failing  buffer=memory queue="), "{summary}");
    assert!(summary.contains("\n          last error: "), "{summary}");
    assert!(summary.contains("\n  file    "), "{summary}");
    assert!(summary.ends_with("\n1 of 2 backends needs attention: influx (failing)\n"), "{summary}");
}

/// Nothing listening: exit 2, and the message names the address, where it came from and the
/// cause.
#[test]
fn status_exits_two_naming_the_address_when_no_agent_answers() {
    let closed = free_tcp();
    let out = status(&["--api", &closed.to_string()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    let err = text(&out.stderr);
    assert!(
        err.starts_with(&format!("sluice: cannot reach the agent's API at {closed} (from --api): cannot connect: ")),
        "{err}"
    );
    assert!(err.contains("refused"), "{err}");
}
