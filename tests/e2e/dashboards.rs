//! The Grafana dashboards of `dashboards/`, checked without Grafana: their JSON imports and
//! provisions cleanly (unique ids, a `datasource` variable every query uses, no `__inputs`),
//! `promtool` parses every expression, and a real Prometheus scraping a running sluice (its
//! API's `/metrics` and a scrape endpoint) answers every panel's and variable's query with
//! data.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::time::Duration;

use serde_json::Value;

use crate::common;

use common::prometheus::PromQl as _;
use common::promtool::check_rules;
use common::scraper::Scraper;
use common::{Setup, free_tcp};

const DASHBOARDS: [&str; 2] = ["sluice-overview.json", "sluice-applications.json"];
const DATASOURCE: &str = "${datasource}";

fn load(name: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("dashboards").join(name);
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// Every panel, rows included.
fn panels(dashboard: &Value) -> Vec<&Value> {
    dashboard["panels"].as_array().unwrap().iter().collect()
}

/// Every query expression of the dashboard's panels.
fn expressions(dashboard: &Value) -> Vec<String> {
    panels(dashboard)
        .iter()
        .flat_map(|p| p["targets"].as_array().into_iter().flatten())
        .map(|t| t["expr"].as_str().unwrap().to_owned())
        .collect()
}

/// The variables' `(name, query)`; the `datasource` variable has no query.
fn variables(dashboard: &Value) -> Vec<(String, Option<String>)> {
    dashboard["templating"]["list"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| (v["name"].as_str().unwrap().to_owned(), v["query"]["query"].as_str().map(str::to_owned)))
        .collect()
}

/// Each dashboard has a uid, a schema version Grafana imports, a `datasource` variable of type
/// `datasource` and no `__inputs`; its panel ids are unique, every panel and every query uses
/// `${datasource}`, and every `$variable` a query names is defined.
#[test]
fn every_dashboard_imports_with_a_datasource_variable_and_unique_panel_ids() {
    let mut uids = BTreeSet::new();
    for name in DASHBOARDS {
        let d = load(name);
        assert!(uids.insert(d["uid"].as_str().unwrap().to_owned()), "{name}: uid used twice");
        assert!(d["schemaVersion"].as_u64().unwrap() >= 36, "{name}: schemaVersion");
        assert!(d.get("__inputs").is_none(), "{name}: __inputs makes provisioning fail");
        let vars = variables(&d);
        let datasource = d["templating"]["list"].as_array().unwrap().iter().find(|v| v["name"] == "datasource");
        assert_eq!(datasource.map(|v| &v["type"]), Some(&Value::from("datasource")), "{name}");
        let mut ids = BTreeSet::new();
        for panel in panels(&d) {
            assert!(ids.insert(panel["id"].as_u64().unwrap()), "{name}: panel id {} twice", panel["id"]);
            assert!(panel["gridPos"]["w"].as_u64().unwrap() > 0 && panel["gridPos"]["h"].as_u64().unwrap() > 0);
            if panel["type"] == "row" {
                continue;
            }
            assert_eq!(panel["datasource"]["uid"], DATASOURCE, "{name}: panel {}", panel["title"]);
            let targets = panel["targets"].as_array().unwrap();
            assert!(!targets.is_empty(), "{name}: panel {} has no query", panel["title"]);
            for target in targets {
                assert_eq!(target["datasource"]["uid"], DATASOURCE, "{name}: panel {}", panel["title"]);
            }
        }
        for expr in expressions(&d) {
            for used in expr.split('$').skip(1) {
                let var: String = used.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
                assert!(var == "__rate_interval" || vars.iter().any(|(v, _)| *v == var), "{name}: ${var} in {expr}");
            }
        }
    }
}

/// `expr` with the dashboard's variables given values: every instance and job, and the
/// counter and histogram found on the scrape endpoint.
fn substitute(expr: &str, counter: &str, histogram: &str) -> String {
    expr.replace("$__rate_interval", "1m")
        .replace("$instance", ".+")
        .replace("$job", ".+")
        .replace("$counter", counter)
        .replace("$histogram", histogram)
}

/// A variable's Grafana query as PromQL with the same answer set.
fn variable_query(query: &str) -> String {
    if let Some(args) = query.strip_prefix("label_values(").and_then(|q| q.strip_suffix(')')) {
        let (metric, label) = args.rsplit_once(',').unwrap();
        format!("count by ({}) ({})", label.trim(), metric.trim())
    } else if let Some(regex) = query.strip_prefix("metrics(").and_then(|q| q.strip_suffix(')')) {
        format!("count by (__name__) ({{__name__=~\"{regex}\"}})")
    } else {
        panic!("a variable query of an unknown form: {query}")
    }
}

/// With sluice's API and a scrape endpoint scraped by Prometheus while StatsD traffic flows,
/// `promtool` parses every dashboard expression and Prometheus answers each of them, and each
/// variable's query, with at least one series.
#[test]
fn every_dashboard_query_returns_data_from_a_prometheus_scraping_sluice() {
    let listen = free_tcp();
    let sink = format!("[sinks.scrape]\ntype = \"prometheus_exporter\"\nlisten = \"{listen}\"\n");
    let agent = Setup { flush_interval: "1s", ..Setup::default() }.start(&sink);
    let sending = Arc::new(AtomicBool::new(true));
    let sender = {
        let (sending, udp) = (Arc::clone(&sending), agent.udp);
        std::thread::spawn(move || {
            let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
            let mut i = 0_u64;
            while sending.load(Relaxed) {
                let mut datagram = String::new();
                for route in ["home", "cart", "pay"] {
                    writeln!(datagram, "dash.requests:1|c|#route:{route}").unwrap();
                    writeln!(datagram, "dash.latency:{}|ms|#route:{route}", 5 + i % 300).unwrap();
                }
                datagram.push_str("not a metric\n");
                socket.send_to(datagram.as_bytes(), udp).unwrap();
                i += 1;
                std::thread::sleep(Duration::from_millis(20));
            }
        })
    };
    let prometheus = Scraper::start_jobs(&[("sluice", agent.api), ("apps", listen)]);

    let name_of = |promql: &str| {
        let found = prometheus.wait_for(promql, Duration::from_secs(30), |s| !s.is_empty());
        found[0].0["__name__"].clone()
    };
    let counter = name_of("count by (__name__) ({job=\"apps\", __name__=~\"dash_requests.*_total\"})");
    let histogram = name_of("count by (__name__) ({job=\"apps\", __name__=~\"dash_latency.*_bucket\"})");

    let mut queries = Vec::new();
    for name in DASHBOARDS {
        let d = load(name);
        queries.extend(expressions(&d).iter().map(|e| (name, substitute(e, &counter, &histogram))));
        queries.extend(variables(&d).into_iter().filter_map(|(_, q)| q).map(|q| (name, variable_query(&q))));
    }
    let mut rules = "groups:\n  - name: dashboards\n    rules:\n".to_owned();
    for (i, (_, expr)) in queries.iter().enumerate() {
        writeln!(rules, "      - record: dashboard:check:{i}\n        expr: {}", serde_json::to_string(expr).unwrap())
            .unwrap();
    }
    check_rules(&rules).unwrap();
    for (name, expr) in &queries {
        let answer = prometheus.wait_for(expr, Duration::from_secs(30), |s| !s.is_empty());
        assert!(!answer.is_empty(), "{name}: {expr}");
    }
    let scraped = prometheus.query("up").unwrap();
    assert_eq!(scraped.len(), 2, "{scraped:?}");
    sending.store(false, Relaxed);
    sender.join().unwrap();
}
