use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;

use super::service::FILE_MODE;
use super::{Textfile, TextfileConfig, TextfileWriter};
use crate::backend::{Backend, SendError};
use crate::delivery::{BufferConfig, Fanout, RetryConfig, spawn};
use crate::model::{Series, SummaryKind, Value, Window};
use crate::prometheus::tests::{key, mappings, summary, window};

fn temp_dir(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("sluice-textfile-{test}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn writer(data_dir: &Path, path: &Path) -> TextfileWriter {
    let mut config = TextfileConfig::new(path);
    config.buckets = vec![0.005, 0.1, 1.0];
    TextfileWriter::new("node", &config, data_dir, Arc::default()).unwrap()
}

fn encode(writer: &mut TextfileWriter, window: &Window) -> Textfile {
    let mut batches = writer.encode(window).unwrap();
    assert_eq!(batches.len(), 1, "one file per window");
    batches.remove(0).payload
}

/// The window of the translation table: a counter with a bare tag, a gauge, a set, a timer
/// and a histogram.
fn first_window() -> Window {
    window(
        1,
        vec![
            Series { key: key("app.hits", &["canary", "route:/api"]), value: Value::Counter { sum: 30.0, rate: 3.0 } },
            Series { key: key("cpu.temp", &["instance:x"]), value: Value::Gauge { value: -1.5 } },
            Series { key: key("users", &[]), value: Value::Set { count: 2, members: vec![1, 2] } },
            Series {
                key: key("req.latency", &[]),
                value: summary(SummaryKind::Timer, &[(4.0, 1.0), (20.0, 1.0), (100.0, 1.0)], &[]),
            },
            Series { key: key("h", &[]), value: summary(SummaryKind::Histogram, &[(0.5, 2.0), (2.0, 2.0)], &[]) },
        ],
    )
}

/// The file is exactly the table in `docs/translation.md`, counters cumulative across
/// windows, without timestamps; each window replaces it by a rename (a new inode, never a
/// rewrite in place) with mode 0644 whatever mode a leftover temporary file had, and no
/// temporary file stays behind.
#[tokio::test]
async fn the_file_is_replaced_by_a_rename_with_mode_0644() {
    let dir = temp_dir("atomic");
    let path = dir.join("sluice.prom");
    let temp = dir.join("sluice.prom.tmp");
    let mut writer = writer(&dir, &path);
    // A temporary file a crash left behind, unreadable to node_exporter's user.
    std::fs::write(&temp, "half").unwrap();
    std::fs::set_permissions(&temp, std::fs::Permissions::from_mode(0o600)).unwrap();
    let file = encode(&mut writer, &first_window());
    writer.send(&file).await.unwrap();
    writer.delivered(&first_window());
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        "# HELP app_hits_total Aggregated by sluice.\n\
         # TYPE app_hits_total counter\n\
         app_hits_total{canary=\"true\",env=\"prod\",route=\"/api\"} 30\n\
         # HELP cpu_temp Aggregated by sluice.\n\
         # TYPE cpu_temp gauge\n\
         cpu_temp{env=\"prod\",instance=\"x\"} -1.5\n\
         # HELP h Aggregated by sluice.\n\
         # TYPE h histogram\n\
         h_bucket{env=\"prod\",le=\"0.005\"} 0\n\
         h_bucket{env=\"prod\",le=\"0.1\"} 0\n\
         h_bucket{env=\"prod\",le=\"1\"} 2\n\
         h_bucket{env=\"prod\",le=\"+Inf\"} 4\n\
         h_sum{env=\"prod\"} 5\n\
         h_count{env=\"prod\"} 4\n\
         # HELP req_latency Aggregated by sluice.\n\
         # TYPE req_latency histogram\n\
         req_latency_bucket{env=\"prod\",le=\"0.005\"} 1\n\
         req_latency_bucket{env=\"prod\",le=\"0.1\"} 3\n\
         req_latency_bucket{env=\"prod\",le=\"1\"} 3\n\
         req_latency_bucket{env=\"prod\",le=\"+Inf\"} 3\n\
         req_latency_sum{env=\"prod\"} 0.124\n\
         req_latency_count{env=\"prod\"} 3\n\
         # HELP users Aggregated by sluice.\n\
         # TYPE users gauge\n\
         users{env=\"prod\"} 2\n"
    );
    let first = std::fs::metadata(&path).unwrap();
    assert_eq!(first.permissions().mode() & 0o777, FILE_MODE);
    assert!(!temp.exists(), "the temporary file was renamed into place");

    let second = window(
        2,
        vec![Series {
            key: key("app.hits", &["canary", "route:/api"]),
            value: Value::Counter { sum: 12.0, rate: 1.2 },
        }],
    );
    let file = encode(&mut writer, &second);
    writer.send(&file).await.unwrap();
    let body = std::fs::read_to_string(&path).unwrap();
    assert!(
        body.contains(
            "# TYPE app_hits_total counter\napp_hits_total{canary=\"true\",env=\"prod\",route=\"/api\"} 42\n"
        ),
        "{body}"
    );
    assert!(
        body.contains("cpu_temp{env=\"prod\",instance=\"x\"} -1.5\n"),
        "the gauge is kept for expire_after: {body}"
    );
    let replaced = std::fs::metadata(&path).unwrap();
    assert_ne!(replaced.ino(), first.ino(), "a new file renamed over the old one");
    assert_eq!(replaced.permissions().mode() & 0o777, FILE_MODE);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A missing directory is refused for good (not retried: the next window's file holds the
/// same totals and more), with a message naming `path`; once the directory exists the next
/// window writes the file with every total, the refused window's included.
#[tokio::test]
async fn a_missing_directory_is_refused_naming_the_path_and_the_next_window_recovers() {
    let dir = temp_dir("missing");
    let path = dir.join("later").join("sluice.prom");
    let mut writer = writer(&dir, &path);
    let hits = |id, sum| window(id, vec![Series { key: key("hits", &[]), value: Value::Counter { sum, rate: 1.0 } }]);
    let file = encode(&mut writer, &hits(1, 5.0));
    let error = writer.send(&file).await.unwrap_err();
    assert!(matches!(error, SendError::Rejected(_)), "{error:?}");
    assert!(!error.is_retriable());
    let message = error.to_string();
    assert!(message.contains(&format!("cannot write `path` {}", path.display())), "{message}");
    assert!(message.contains("No such file or directory"), "{message}");
    std::fs::create_dir(dir.join("later")).unwrap();
    let file = encode(&mut writer, &hits(2, 2.0));
    writer.send(&file).await.unwrap();
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        "# HELP hits_total Aggregated by sluice.\n# TYPE hits_total counter\nhits_total{env=\"prod\"} 7\n"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Through the delivery task a file that cannot be written (its directory is a regular
/// file) is one rejected error per window and its series dropped as rejected, never retried,
/// and the error names the path.
#[tokio::test]
async fn an_unwritable_path_is_counted_by_the_delivery_task_without_retries() {
    let dir = temp_dir("unwritable");
    std::fs::write(dir.join("not-a-dir"), "").unwrap();
    let path = dir.join("not-a-dir").join("sluice.prom");
    let fanout =
        Fanout::new(vec![spawn("node", writer(&dir, &path), &BufferConfig::default(), &RetryConfig::default())]);
    let stats = fanout.stats();
    let hits = |id| window(id, vec![Series { key: key("hits", &[]), value: Value::Counter { sum: 1.0, rate: 1.0 } }]);
    fanout.publish(&Arc::new(hits(1)));
    fanout.publish(&Arc::new(hits(2)));
    assert_eq!(fanout.finish(std::time::Duration::from_secs(5)).await, 0);
    assert_eq!(stats[0].errors_rejected.load(Relaxed), 2);
    assert_eq!(stats[0].dropped_rejected.load(Relaxed), 2);
    assert_eq!(stats[0].retries.load(Relaxed), 0);
    let last_error = stats[0].status().last_error.unwrap();
    assert!(last_error.contains(&path.display().to_string()) && last_error.contains("Not a directory"), "{last_error}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Mapping rules apply: a glob with a capture names and labels the series, a drop rule
/// leaves its series out of the file.
#[tokio::test]
async fn mapping_rules_name_label_and_drop_series_in_the_file() {
    let dir = temp_dir("mapping");
    let path = dir.join("sluice.prom");
    let rules = "[[mappings]]\nmatch = \"app.*.requests\"\nname = \"app_requests\"\nlabels = { server = \"$1\" }\n\
                 [[mappings]]\nmatch = \"debug.*\"\naction = \"drop\"\n";
    let mut writer = TextfileWriter::new("node", &TextfileConfig::new(&path), &dir, mappings(rules)).unwrap();
    let mapped = window(
        1,
        vec![
            Series { key: key("app.web1.requests", &[]), value: Value::Counter { sum: 3.0, rate: 0.3 } },
            Series { key: key("debug.noise", &[]), value: Value::Counter { sum: 1.0, rate: 0.1 } },
            Series { key: key("debug.level", &[]), value: Value::Gauge { value: 1.0 } },
        ],
    );
    let file = encode(&mut writer, &mapped);
    writer.send(&file).await.unwrap();
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        "# HELP app_requests_total Aggregated by sluice.\n# TYPE app_requests_total counter\n\
         app_requests_total{env=\"prod\",server=\"web1\"} 3\n"
    );
    assert_eq!(writer.take_left_out(), 0, "a drop rule is no conflict");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A path that does not end with `.prom` (`node_exporter` would never read it) or is relative
/// is refused by name.
#[test]
fn a_path_node_exporter_would_not_read_is_refused() {
    for path in ["/var/lib/node-exporter/sluice.txt", "sluice.prom"] {
        let error = TextfileConfig::new(path).validate().unwrap_err();
        assert_eq!(error.key, Some("path"), "{path}");
    }
    TextfileConfig::new("/var/lib/node-exporter/sluice.prom").validate().unwrap();
}
