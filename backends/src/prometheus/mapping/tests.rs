//! Tests of the rules alone: matching, captures, order, kinds, drop, the cache's bound and
//! every validation message.

use super::cache::Cache;
use super::config::{Action, MappingRule, MatchType, MetricType};
use super::rules::{MappingError, Mappings, Observer};

/// A rule as `[[mappings]]` writes it.
fn rules(toml_text: &str) -> Vec<MappingRule> {
    #[derive(serde::Deserialize)]
    struct File {
        mappings: Vec<MappingRule>,
    }
    toml::from_str::<File>(toml_text).unwrap().mappings
}

fn compile(toml_text: &str) -> Mappings {
    Mappings::compile(&rules(toml_text)).unwrap()
}

fn error(toml_text: &str) -> MappingError {
    Mappings::compile(&rules(toml_text)).unwrap_err()
}

/// Each `*` of a glob captures one or more characters without a dot, `$n` and `${n}` expand.
#[test]
fn a_glob_captures_each_star_between_dots() {
    let m = compile(
        r#"
        [[mappings]]
        match = "app.*.requests.*"
        name = "app_${2}_requests"
        labels = { server = "$1", code = "${2}", both = "$1-$2", dollar = "$$1" }
        "#,
    );
    let mapped = m.map("app.web-1.requests.200", MetricType::Counter).unwrap();
    assert_eq!(mapped.name, "app_200_requests");
    assert_eq!(
        mapped.labels,
        [
            ("both".to_owned(), "web-1-200".to_owned()),
            ("code".to_owned(), "200".to_owned()),
            ("dollar".to_owned(), "$1".to_owned()),
            ("server".to_owned(), "web-1".to_owned()),
        ]
    );
    assert!(!mapped.drop);
    // `*` never spans a dot and never matches nothing; the glob matches the whole name.
    assert!(m.map("app.a.b.requests.200", MetricType::Counter).is_none());
    assert!(m.map("app..requests.200", MetricType::Counter).is_none());
    assert!(m.map("app.a.requests.200.x", MetricType::Counter).is_none());
    assert!(m.map("xapp.a.requests.200", MetricType::Counter).is_none());
}

/// A capture's `-` or `.` in a name becomes `_`, as in the default translation.
#[test]
fn a_captured_name_is_sanitised() {
    let m = compile("[[mappings]]\nmatch = \"svc.*\"\nname = \"svc_$1\"\n");
    assert_eq!(m.map("svc.get-user", MetricType::Gauge).unwrap().name, "svc_get_user");
}

/// A regex must match the whole name; numbered and named captures expand.
#[test]
fn a_regex_captures_numbered_and_named_groups() {
    let m = compile(
        r#"
        [[mappings]]
        match = '(\w+)\.db\.(?P<op>select|insert)\.(\d+)'
        match_type = "regex"
        name = "db_${op}_seconds"
        labels = { service = "$1", shard = "${3}", op = "$op" }
        "#,
    );
    let mapped = m.map("billing.db.select.7", MetricType::Timer).unwrap();
    assert_eq!(mapped.name, "db_select_seconds");
    assert_eq!(
        mapped.labels,
        [
            ("op".to_owned(), "select".to_owned()),
            ("service".to_owned(), "billing".to_owned()),
            ("shard".to_owned(), "7".to_owned())
        ]
    );
    assert!(m.map("billing.db.select.7.extra", MetricType::Timer).is_none(), "anchored at the end");
    assert!(m.map("x.billing.db.update.7", MetricType::Timer).is_none());
}

/// Rules are tried in order: the first that matches decides, later ones are not consulted.
#[test]
fn the_first_matching_rule_wins() {
    let m = compile(
        r#"
        [[mappings]]
        match = "app.special.*"
        name = "special"
        [[mappings]]
        match = "app.*.*"
        name = "generic_$1"
        "#,
    );
    assert_eq!(m.map("app.special.x", MetricType::Counter).unwrap().name, "special");
    assert_eq!(m.map("app.other.x", MetricType::Counter).unwrap().name, "generic_other");
}

/// `match_metric_type` restricts a rule to one kind; `observer` covers timers, histograms and
/// distributions.
#[test]
fn match_metric_type_restricts_a_rule_to_a_kind() {
    let m = compile(
        r#"
        [[mappings]]
        match = "x.*"
        match_metric_type = "gauge"
        name = "gauge_$1"
        [[mappings]]
        match = "x.*"
        match_metric_type = "observer"
        name = "observed_$1"
        "#,
    );
    assert_eq!(m.map("x.a", MetricType::Gauge).unwrap().name, "gauge_a");
    assert!(m.map("x.a", MetricType::Counter).is_none());
    assert!(m.map("x.a", MetricType::Set).is_none());
    for kind in [MetricType::Timer, MetricType::Histogram, MetricType::Distribution] {
        assert_eq!(m.map("x.a", kind).unwrap().name, "observed_a");
    }
}

/// A drop rule needs no name and marks the series as dropped; buckets, quantiles and expiry
/// are carried to the result.
#[test]
fn drop_buckets_quantiles_and_expiry_are_carried() {
    let m = compile(
        r#"
        [[mappings]]
        match = "debug.*"
        action = "drop"
        [[mappings]]
        match = "lat.*"
        name = "lat"
        buckets = [0.01, 0.1, 1]
        expire_after = "5m"
        [[mappings]]
        match = "q.*"
        name = "q"
        quantiles = [0.99, 0.5]
        "#,
    );
    let dropped = m.map("debug.x", MetricType::Counter).unwrap();
    assert!(dropped.drop);
    let lat = m.map("lat.a", MetricType::Timer).unwrap();
    assert_eq!(lat.observer, Observer::Buckets(vec![0.01, 0.1, 1.0].into()));
    assert_eq!(lat.expire_after, Some(std::time::Duration::from_mins(5)));
    assert_eq!(m.map("q.a", MetricType::Histogram).unwrap().observer, Observer::Quantiles(vec![0.5, 0.99].into()));
    assert_eq!(rules("[[mappings]]\nmatch = \"a\"\naction = \"drop\"\n")[0].action, Action::Drop);
    assert_eq!(
        rules("[[mappings]]\nmatch = \"a\"\nmatch_type = \"regex\"\nname = \"a\"\n")[0].match_type,
        MatchType::Regex
    );
}

/// The cache answers repeated names without growing past its bound: at the bound it starts
/// over, and its answers stay right.
#[test]
fn the_cache_is_bounded_and_stays_correct() {
    let m = compile("[[mappings]]\nmatch = \"a.*\"\nname = \"a_$1\"\n");
    let mut cache = Cache::with_capacity(100);
    for round in 0..3 {
        for i in 0..250 {
            let name = format!("a.n{i}");
            assert_eq!(cache.get(&m, &name, MetricType::Counter).unwrap().name, format!("a_n{i}"), "round {round}");
            assert!(cache.get(&m, &format!("b.n{i}"), MetricType::Counter).is_none());
            assert!(cache.len() <= 100);
        }
    }
    assert!(cache.clears >= 14, "{} clears", cache.clears);
    // No rules: nothing is cached at all.
    let mut empty = Cache::with_capacity(10);
    assert!(empty.get(&Mappings::none(), "a.b", MetricType::Gauge).is_none());
    assert_eq!(empty.len(), 0);
}

/// Every invalid rule is refused with its index, its key and what to change.
#[test]
fn every_invalid_rule_names_its_index_and_key() {
    let ok = "[[mappings]]\nmatch = \"ok.*\"\nname = \"ok\"\n";
    let cases: &[(&str, &str, Option<usize>, &str)] = &[
        ("match = \"\"\nname = \"a\"", "match", None, "must not be empty"),
        ("match = \"a.**\"\nname = \"a\"", "match", None, "two `*` in a row"),
        ("match = \"a b\"\nname = \"a\"", "match", None, "no StatsD name does"),
        ("match = \"(a\"\nmatch_type = \"regex\"\nname = \"a\"", "match", None, "is not a regular expression"),
        ("match = \"a.*\"", "name", None, "is required unless action = \"drop\""),
        ("match = \"a.*\"\nname = \"9lives\"", "name", None, "is not a Prometheus metric name"),
        ("match = \"a.*\"\nname = \"a-$1\"", "name", None, "is not a Prometheus metric name"),
        ("match = \"a.*\"\nname = \"a_$2\"", "name", None, "uses $2 but the pattern has 1 `*`"),
        ("match = \"a.*\"\nname = \"a_$0\"", "name", None, "captures count from $1"),
        ("match = \"a.*\"\nname = \"a_$1x\"", "name", None, "write ${1}x"),
        ("match = \"a.*\"\nname = \"a_${1\"", "name", None, "without its"),
        ("match = \"a.*\"\nname = \"a_$\"", "name", None, "without a capture"),
        ("match = '(?P<x>a)'\nmatch_type = \"regex\"\nname = \"a_${y}\"", "name", None, "does not name"),
        ("match = \"a.*\"\nname = \"a\"\nlabels = { \"bad-label\" = \"$1\" }", "labels", None, "is not a label name"),
        ("match = \"a.*\"\nname = \"a\"\nlabels = { __x = \"$1\" }", "labels", None, "no leading __"),
        ("match = \"a.*\"\nname = \"a\"\nlabels = { x = \"$3\" }", "labels", None, "uses $3"),
        ("match = \"a.*\"\nname = \"a\"\nbuckets = [1, 0.5]", "buckets", Some(1), "strictly increasing"),
        ("match = \"a.*\"\nname = \"a\"\nbuckets = [1, nan]", "buckets", Some(1), "not a finite bound"),
        ("match = \"a.*\"\nname = \"a\"\nbuckets = [1, inf]", "buckets", Some(1), "not a finite bound"),
        ("match = \"a.*\"\nname = \"a\"\nbuckets = [1]\nquantiles = [0.5]", "quantiles", None, "not both"),
        ("match = \"a.*\"\nname = \"a\"\nquantiles = [0.5, 1]", "quantiles", Some(1), "less than 1"),
        ("match = \"a.*\"\nname = \"a\"\nquantiles = [0]", "quantiles", Some(0), "greater than 0"),
        ("match = \"a.*\"\nname = \"a\"\nquantiles = [0.5, 0.5]", "quantiles", Some(1), "listed twice"),
        ("match = \"a.*\"\nname = \"a\"\nexpire_after = \"0s\"", "expire_after", None, "longer than 0s"),
    ];
    for &(rule, key, item, words) in cases {
        let e = error(&format!("{ok}[[mappings]]\n{rule}\n"));
        assert_eq!((e.index, e.key, e.item), (1, key, item), "{rule}: {e}");
        let text = e.to_string();
        assert!(text.starts_with(&format!("invalid value for key {key:?} in [[mappings]] index 1: ")), "{text}");
        assert!(text.contains(words), "{rule}: {text}");
    }
}
