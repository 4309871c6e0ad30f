"""An application instrumented with the OpenTelemetry Python SDK, for sluice's OTLP tests.

It records known values for ROUNDS rounds and exports them over OTLP/HTTP (protobuf) to the
endpoint given, every EXPORT_MS milliseconds while it runs and once more at shutdown. The
values follow fixed formulas, which the Rust test (tests/e2e/otlp.rs) computes on its side:

- counter ``otel.requests`` (int) for ``route=r<i>``, i < COUNTERS: each round adds
  ``i % 7 + 1 + round % 3``;
- counter ``otel.bytes`` (double) for ``route=r<i>``: each round adds ``0.5 * (i % 4 + 1)``;
- histogram ``otel.latency`` (explicit bounds BOUNDS) for ``route=r<j>``, j < HISTOGRAMS: each
  round records every value of LATENCIES, then ``j % 3`` more times 20;
- histogram ``otel.size`` (exponential buckets) for ``shard=s<s>``, s < EXPONENTIALS: each
  round records ``(s + 1) * k`` for k in 1..=5;
- gauge ``otel.temperature`` for ``zone=z<g>``, g < GAUGES: each round sets ``1.5 * g + round``;
- up-down counter ``otel.queue`` for ``queue=q<u>``, u < UP_DOWNS: the first round adds u, every
  round adds 3 and then -1.

Usage: otlp_client.py ENDPOINT delta|cumulative SERVICE_NAME gzip|none
"""

import sys
import time

from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.sdk.metrics import (
    Counter,
    Histogram,
    MeterProvider,
    ObservableCounter,
    ObservableGauge,
    ObservableUpDownCounter,
    UpDownCounter,
)
from opentelemetry.sdk.metrics.export import (
    AggregationTemporality,
    MetricExportResult,
    PeriodicExportingMetricReader,
)
from opentelemetry.sdk.metrics.view import (
    ExplicitBucketHistogramAggregation,
    ExponentialBucketHistogramAggregation,
    View,
)
from opentelemetry.sdk.resources import Resource

ROUNDS = 12
ROUND_SECONDS = 0.12
EXPORT_MS = 250
COUNTERS = 150
HISTOGRAMS = 40
EXPONENTIALS = 10
GAUGES = 60
UP_DOWNS = 30
BOUNDS = [1.0, 5.0, 10.0, 50.0, 100.0]
LATENCIES = [0.5, 3.0, 7.0, 20.0, 75.0, 250.0, 5.0, 1.0]


class CheckedExporter(OTLPMetricExporter):
    """The SDK's exporter, remembering whether every export succeeded (the SDK only logs)."""

    failures = 0
    exports = 0

    def export(self, metrics_data, timeout_millis=10_000, **kwargs):
        result = super().export(metrics_data, timeout_millis=timeout_millis, **kwargs)
        self.exports += 1
        if result != MetricExportResult.SUCCESS:
            self.failures += 1
        return result


def main():
    endpoint, temporality, service, compression = sys.argv[1:5]
    kind = {"delta": AggregationTemporality.DELTA, "cumulative": AggregationTemporality.CUMULATIVE}[temporality]
    exporter = CheckedExporter(
        endpoint=endpoint,
        compression=Compression.Gzip if compression == "gzip" else Compression.NoCompression,
        preferred_temporality={
            Counter: kind,
            UpDownCounter: kind,
            Histogram: kind,
            ObservableCounter: kind,
            ObservableUpDownCounter: kind,
            ObservableGauge: kind,
        },
    )
    reader = PeriodicExportingMetricReader(exporter, export_interval_millis=EXPORT_MS)
    resource = Resource.create(
        {
            "service.name": service,
            "service.instance.id": "instance-1",
            "host.name": "box-1",
            "deployment.environment": "test",
            "deployment.secret": "s3cret",
        }
    )
    views = [
        View(instrument_name="otel.latency", aggregation=ExplicitBucketHistogramAggregation(boundaries=BOUNDS)),
        View(instrument_name="otel.size", aggregation=ExponentialBucketHistogramAggregation()),
    ]
    provider = MeterProvider(resource=resource, metric_readers=[reader], views=views)
    meter = provider.get_meter("shop", "1.0", attributes={"scope.kind": "orders"})
    requests = meter.create_counter("otel.requests")
    sent_bytes = meter.create_counter("otel.bytes")
    latency = meter.create_histogram("otel.latency")
    size = meter.create_histogram("otel.size")
    temperature = meter.create_gauge("otel.temperature")
    queue = meter.create_up_down_counter("otel.queue")

    for r in range(ROUNDS):
        for i in range(COUNTERS):
            route = {"route": f"r{i}"}
            requests.add(i % 7 + 1 + r % 3, route)
            sent_bytes.add(0.5 * (i % 4 + 1), route)
        for j in range(HISTOGRAMS):
            route = {"route": f"r{j}"}
            for value in LATENCIES:
                latency.record(value, route)
            for _ in range(j % 3):
                latency.record(20.0, route)
        for s in range(EXPONENTIALS):
            for k in range(1, 6):
                size.record((s + 1) * k, {"shard": f"s{s}"})
        for g in range(GAUGES):
            temperature.set(1.5 * g + r, {"zone": f"z{g}"})
        for u in range(UP_DOWNS):
            attributes = {"queue": f"q{u}"}
            if r == 0:
                queue.add(u, attributes)
            queue.add(3, attributes)
            queue.add(-1, attributes)
        time.sleep(ROUND_SECONDS)
    # Exports what the last interval recorded, then stops the reader.
    if not provider.force_flush(timeout_millis=10_000):
        sys.exit("the final export did not finish")
    provider.shutdown()
    if exporter.failures:
        sys.exit(f"{exporter.failures} of {exporter.exports} exports failed")
    print(f"{exporter.exports} exports")


if __name__ == "__main__":
    main()
