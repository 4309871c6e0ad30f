// Drives the status page in the system's Chromium through playwright-core, for
// tests/e2e/status_page.rs. One command per line on stdin, one JSON answer per line on stdout:
//   open URL | snapshot | wait-backend NAME STATE MS | wait-connection STATE MS |
//   login TOKEN | screenshot PATH | quit
"use strict";

const path = require("path");
const readline = require("readline");
const { chromium } = require(path.join(process.argv[2], "node_modules", "playwright-core"));

let browser = null;
let page = null;

function answer(value) {
  process.stdout.write(JSON.stringify(value) + "\n");
}

// What the page shows, read from its DOM (the data-* attributes next to each visible number).
async function read() {
  return page.evaluate(() => {
    const value = (el) => (el && el.dataset.value !== undefined ? Number(el.dataset.value) : null);
    const rows = (selector, key) => {
      const out = {};
      for (const row of document.querySelectorAll(selector)) {
        const fields = {};
        for (const td of row.querySelectorAll("td[data-field]")) {
          fields[td.dataset.field] = td.dataset.field === "state" ? td.dataset.value : value(td);
        }
        out[row.dataset[key]] = fields;
      }
      return out;
    };
    const reasons = {};
    for (const li of document.querySelectorAll("#parse-errors li[data-reason]")) reasons[li.dataset.reason] = Number(li.dataset.value);
    return {
      refreshed: Number(document.body.dataset.refreshed || 0),
      connection: document.getElementById("connection").dataset.state,
      login: !document.getElementById("login").hidden,
      series: value(document.getElementById("series")),
      flushes: value(document.getElementById("flushes")),
      listeners: rows("#listeners tr", "listener"),
      backends: rows("#backends tr", "backend"),
      parse_errors: reasons,
      top: [...document.querySelectorAll("#top tr")].map((tr) => tr.firstChild.textContent),
    };
  });
}

async function until(test, ms) {
  const started = Date.now();
  for (;;) {
    const shown = await read();
    if (test(shown)) return { ok: true, ms: Date.now() - started, shown };
    if (Date.now() - started > ms) return { ok: false, ms: Date.now() - started, shown };
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function run(line) {
  const [command, ...args] = line.trim().split(" ");
  switch (command) {
    case "open": {
      browser = await chromium.launch({
        executablePath: "/usr/bin/chromium",
        args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
          "--disable-component-update", "--no-first-run", "--disable-quic", "--disable-sync"],
      });
      page = await (await browser.newContext()).newPage();
      page.on("pageerror", (e) => process.stderr.write("page error: " + e.message + "\n"));
      await page.goto(args[0]);
      return until((s) => s.refreshed > 0 || s.login, 10000);
    }
    case "snapshot": {
      // A refresh that starts after the command, so the numbers are at least this fresh.
      const after = Date.now();
      return until((s) => s.refreshed > after, 10000);
    }
    case "wait-backend":
      return until((s) => (s.backends[args[0]] || {}).state === args[1], Number(args[2]));
    case "wait-connection":
      return until((s) => s.connection === args[0], Number(args[1]));
    case "wait-top":
      return until((s) => s.top.length > 0, Number(args[0]));
    case "login":
      await page.fill("#token", args[0]);
      await page.click("#login button");
      return until((s) => !s.login && s.refreshed > 0, 10000);
    case "screenshot":
      await page.screenshot({ path: args[0], fullPage: true });
      return { ok: true };
    case "quit":
      if (browser) await browser.close();
      answer({ ok: true });
      process.exit(0);
    default:
      return { ok: false, error: "unknown command " + command };
  }
}

const lines = readline.createInterface({ input: process.stdin });
let queue = Promise.resolve();
lines.on("line", (line) => {
  queue = queue.then(() => run(line)).then(answer, (e) => answer({ ok: false, error: String(e) }));
});
lines.on("close", () => queue.then(() => browser && browser.close()));
