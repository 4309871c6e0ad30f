"""A tiny application instrumented with PyPI prometheus_client, for the scrape source's tests.

Usage: scrape_app.py PORT

Serves the default registry (with the library's process and platform collectors) on
127.0.0.1:PORT with prometheus_client's own server, which answers OpenMetrics to a scraper that
asks for it and gzips for one that accepts it. Reads commands on stdin, one per line:
"round R" records round R's events and answers "done R" on stdout. Prints "listening" once
serving. The events of round R (mirrored in tests/common/scrape_apps.rs):

- app_requests_total{route="rI"}, I < 120: incremented by I % 5 + R;
- app_errors_total: incremented by R;
- app_latency_seconds{route="rJ"}, J < 20, buckets 0.25, 1, 4, 16: observes each LATENCIES value;
- app_queue_depth{queue="qK"}, K < 40: set to K * 10 + R;
- app_payload_bytes (a summary): observes 100, 200 and 300.
"""

import sys

from prometheus_client import Counter, Gauge, Histogram, Summary, start_http_server

COUNTERS = 120
HISTOGRAMS = 20
GAUGES = 40
BOUNDS = (0.25, 1.0, 4.0, 16.0)
LATENCIES = (0.125, 0.25, 0.5, 2.0, 4.0, 8.0, 32.0)

requests = Counter("app_requests", "Requests served.", ["route"])
errors = Counter("app_errors", "Requests failed.")
latency = Histogram("app_latency_seconds", "Request latency.", ["route"], buckets=BOUNDS)
queue = Gauge("app_queue_depth", "Items waiting.", ["queue"])
payload = Summary("app_payload_bytes", "Request body sizes.")


def record(r):
    for i in range(COUNTERS):
        requests.labels(route=f"r{i}").inc(i % 5 + r)
    errors.inc(r)
    for j in range(HISTOGRAMS):
        for value in LATENCIES:
            latency.labels(route=f"r{j}").observe(value)
    for k in range(GAUGES):
        queue.labels(queue=f"q{k}").set(k * 10 + r)
    for size in (100, 200, 300):
        payload.observe(size)


def main():
    start_http_server(int(sys.argv[1]), addr="127.0.0.1")
    print("listening", flush=True)
    for line in sys.stdin:
        words = line.split()
        if len(words) == 2 and words[0] == "round":
            record(int(words[1]))
            print(f"done {words[1]}", flush=True)


if __name__ == "__main__":
    main()
