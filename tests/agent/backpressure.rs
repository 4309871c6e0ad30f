//! A stuck backend must not block ingestion or the other backends.

use crate::common;

use std::fmt::Write as _;
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::{Agent, counter_total, series};

/// The console sink writes to a pipe nobody reads, so it blocks on its first big window. For
/// several windows ingestion goes on without a kernel drop, the file sink receives every
/// window with exact totals, and the console's queue stays bounded, dropping and counting
/// the oldest windows.
#[test]
fn stuck_console_blocks_neither_ingestion_nor_the_file_sink() {
    let agent = Agent::start_with(
        "1s",
        "\n[sinks.console]\ntype = \"console\"\n[sinks.console.buffer]\nmax_windows = 2\n",
        Stdio::piped(),
    );
    let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let mut sent = 0u64;
    let start = Instant::now();
    // 4 000 distinct series per window: each console window is far larger than a pipe buffer.
    while start.elapsed() < Duration::from_secs(5) {
        for chunk in 0..40 {
            let mut datagram = String::new();
            for i in 0..100 {
                writeln!(datagram, "wide.{}:1|c", chunk * 100 + i).unwrap();
            }
            socket.send_to(datagram.as_bytes(), agent.udp).unwrap();
            sent += 100;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let lines = format!("sluice_received_lines_total{{listener=\"udp:{}\"}}", agent.udp);
    agent.wait_metric(&lines, sent as f64);
    assert_eq!(agent.metric(&format!("sluice_kernel_drops_total{{listener=\"udp:{}\"}}", agent.udp)), Some(0.0));
    assert!(agent.metric("sluice_flushes_total").unwrap() >= 4.0);
    let console_queue = agent.metric("sluice_backend_buffered_windows{backend=\"console\"}").unwrap();
    assert!(console_queue <= 2.0, "console queue is bounded, got {console_queue}");
    let dropped =
        agent.metric("sluice_backend_dropped_series_total{backend=\"console\",reason=\"buffer_full\"}").unwrap();
    assert!(dropped > 0.0, "the stuck console's oldest windows are dropped and counted");
    assert_eq!(agent.metric("sluice_backend_dropped_series_total{backend=\"file\",reason=\"buffer_full\"}"), Some(0.0));
    let (status, windows) = agent.stop();
    assert!(status.success(), "exit status {status}");
    let total: f64 =
        series(&windows).filter(|(n, _, _)| n.starts_with("wide.")).map(|(_, _, v)| v["sum"].as_f64().unwrap()).sum();
    assert_eq!(total, sent as f64, "the file sink has every line, exactly once");
    assert_eq!(counter_total(&windows, "wide.3999", &[]), (sent / 4000) as f64);
}
