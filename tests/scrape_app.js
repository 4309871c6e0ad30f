// A tiny application instrumented with npm prom-client, for the scrape source's tests.
//
// Usage: node scrape_app.js PORT
//
// Serves prom-client's default registry (with its default Node.js metrics) on 127.0.0.1:PORT
// in the Prometheus text format, gzipped when the scraper accepts it. Reads commands on stdin,
// one per line: "round R" records round R's events and answers "done R" on stdout. Prints
// "listening" once serving. The events of round R are those of tests/scrape_app.py (mirrored
// in tests/common/scrape_apps.rs), with prom-client's names and a summary with quantiles.

'use strict';

const http = require('http');
const readline = require('readline');
const zlib = require('zlib');
const client = require('prom-client');

const COUNTERS = 120;
const HISTOGRAMS = 20;
const GAUGES = 40;
const BOUNDS = [0.25, 1, 4, 16];
const LATENCIES = [0.125, 0.25, 0.5, 2, 4, 8, 32];

client.collectDefaultMetrics();
const requests = new client.Counter({ name: 'app_requests_total', help: 'Requests served.', labelNames: ['route'] });
const errors = new client.Counter({ name: 'app_errors_total', help: 'Requests failed.' });
const latency = new client.Histogram({
  name: 'app_latency_seconds',
  help: 'Request latency.',
  labelNames: ['route'],
  buckets: BOUNDS,
});
const queue = new client.Gauge({ name: 'app_queue_depth', help: 'Items waiting.', labelNames: ['queue'] });
const payload = new client.Summary({ name: 'app_payload_bytes', help: 'Request body sizes.', percentiles: [0.5, 0.9] });

function record(r) {
  for (let i = 0; i < COUNTERS; i++) requests.inc({ route: `r${i}` }, (i % 5) + r);
  errors.inc(r);
  for (let j = 0; j < HISTOGRAMS; j++) for (const v of LATENCIES) latency.observe({ route: `r${j}` }, v);
  for (let k = 0; k < GAUGES; k++) queue.set({ queue: `q${k}` }, k * 10 + r);
  for (const size of [100, 200, 300]) payload.observe(size);
}

const server = http.createServer(async (req, res) => {
  const body = Buffer.from(await client.register.metrics());
  const headers = { 'Content-Type': client.register.contentType };
  if (/\bgzip\b/.test(req.headers['accept-encoding'] || '')) {
    headers['Content-Encoding'] = 'gzip';
    res.writeHead(200, headers);
    res.end(zlib.gzipSync(body));
  } else {
    res.writeHead(200, headers);
    res.end(body);
  }
});

server.listen(Number(process.argv[2]), '127.0.0.1', () => {
  console.log('listening');
  const lines = readline.createInterface({ input: process.stdin });
  lines.on('line', (line) => {
    const words = line.trim().split(/\s+/);
    if (words.length === 2 && words[0] === 'round') {
      record(Number(words[1]));
      console.log(`done ${words[1]}`);
    }
  });
});
