//! Renders [`Telemetry`] in the Prometheus text exposition format (version 0.0.4), through the
//! backends' one text writer (its escaper and number formatter); the families themselves are
//! [`crate::telemetry::families`].

use backends::prometheus::{FamilyType, Number, TextWriter};

use crate::telemetry::Telemetry;
use crate::telemetry::families::{Reader, read};

/// The whole `/metrics` body.
pub fn render(t: &Telemetry) -> String {
    let mut w = Writer(TextWriter::with_capacity(4096));
    read(t, &mut w);
    w.0.finish()
}

/// Accumulates families in the text format.
struct Writer(TextWriter);

impl Reader for Writer {
    fn family(&mut self, name: &str, kind: FamilyType, help: &str) {
        self.0.family(name, kind, Some(help));
    }

    fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: Number) {
        self.0.sample(name, labels, value);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use backends::prometheus::Context;
    use backends::pushgateway::{Format, Pushgateway, PushgatewayConfig};
    use backends::{Backend as _, Series, SeriesKey, Value, Window};

    use super::Writer;
    use crate::telemetry::families::Reader as _;
    use backends::prometheus::FamilyType::Counter;
    use backends::prometheus::TextWriter;

    /// A label value with a quote, a backslash and a newline.
    const AWKWARD: &str = "unix:/a\"b\\c\nd";
    /// [`AWKWARD`] escaped as the text format requires.
    const ESCAPED: &str = "listener=\"unix:/a\\\"b\\\\c\\nd\"";

    /// Label values with quotes, backslashes and newlines are escaped per the text format.
    #[test]
    fn label_values_are_escaped_for_the_text_format() {
        let mut w = Writer(TextWriter::default());
        w.family("sluice_received_lines_total", Counter, "Lines.");
        w.sample("sluice_received_lines_total", &[("listener", AWKWARD)], 3_u64.into());
        assert_eq!(
            w.0.finish(),
            format!(
                "# HELP sluice_received_lines_total Lines.\n# TYPE sluice_received_lines_total counter\n\
                 sluice_received_lines_total{{{ESCAPED}}} 3\n"
            )
        );
    }

    /// `/metrics` and a Pushgateway push render the same awkward label value the same way:
    /// both go through the one Prometheus text writer.
    #[test]
    fn metrics_and_the_pushgateway_share_one_escaper() {
        let mut w = Writer(TextWriter::default());
        w.family("sluice_received_lines_total", Counter, "Lines.");
        w.sample("sluice_received_lines_total", &[("listener", AWKWARD)], 3_u64.into());
        let ours = w.0.finish();

        let mut config = PushgatewayConfig::new("http://127.0.0.1:9");
        config.format = Format::Text;
        let context = Context {
            client: backends::delivery::http::client().unwrap(),
            // Never written: the state is saved only after a delivered window.
            data_dir: std::env::temp_dir().join(format!("sluice-metrics-escaper-{}", std::process::id())),
            hostname: "web-1".to_owned(),
            mappings: std::sync::Arc::default(),
        };
        let mut pushgateway = Pushgateway::new("pgw", &config, context).unwrap();
        let tag: Box<str> = format!("listener:{AWKWARD}").into();
        let key = Arc::new(SeriesKey { name: "temp".into(), tags: Box::new([tag]), hash: 0 });
        let window = Window {
            id: 1,
            start_ms: 0,
            end_ms: 10_000,
            hostname: "web-1".into(),
            tags: Arc::new([]),
            series: vec![Series { key, value: Value::Gauge { value: 3.0 } }],
            events: Vec::new(),
            service_checks: Vec::new(),
        };
        let pushed = String::from_utf8(pushgateway.encode(&window).unwrap().remove(0).payload.body).unwrap();

        assert!(ours.ends_with(&format!("{{{ESCAPED}}} 3\n")), "{ours}");
        assert_eq!(pushed, format!("# TYPE temp gauge\ntemp{{{ESCAPED}}} 3\n"));
    }
}
