//! Tests of the spool without a runtime: the window's binary form, the record format and
//! recovery from torn and corrupt records.

use std::path::Path;
use std::sync::Arc;

use super::segment::{self, Kind};
use super::{Progress, Spool, decode, encode, peek};
use crate::delivery::config::Fsync;
use crate::model::{Buckets, Event, Series, SeriesKey, ServiceCheck, Summary, SummaryKind, Value, Window};
use crate::sketch::Sketch;

fn key(name: &str, tags: &[&str], hash: u64) -> Arc<SeriesKey> {
    Arc::new(SeriesKey { name: name.into(), tags: tags.iter().map(|t| (*t).into()).collect(), hash })
}

/// A window with every kind of value, an event and a service check.
fn rich_window(id: u64) -> Window {
    let mut sketch = Sketch::new();
    for v in [-3.5, 0.0, 1e-12, 0.25, 12.0, 12.0, 1e9] {
        sketch.add(v, 2.0);
    }
    let summary = Summary {
        kind: SummaryKind::Distribution,
        count: 14.0,
        sum: 2e9,
        min: -3.5,
        max: 1e9,
        percentiles: vec![(50.0, 12.0), (99.0, 1e9)],
        buckets: vec![(10.0, 8.0)],
        sketch,
    };
    Window {
        id,
        start_ms: 1_000 * id,
        end_ms: 1_000 * id + 1_000,
        hostname: "host-é".into(),
        tags: Arc::from(vec!["env:prod".into()]),
        series: vec![
            Series {
                key: key("hits", &["route:home", "bare"], 42),
                value: Value::Counter { sum: 0.1 + 0.2, rate: -0.0 },
            },
            Series { key: key("level", &[], 7), value: Value::Gauge { value: f64::MAX } },
            Series { key: key("users", &["x:y"], 9), value: Value::Set { count: 2, members: vec![1, u64::MAX] } },
            Series { key: key("lat", &[], 11), value: Value::Summary(Box::new(summary)) },
            Series {
                key: key("req_seconds", &["le:not-a-bound"], 13),
                value: Value::Buckets(Box::new(Buckets {
                    bounds: Arc::from([0.005, 0.1, 2.5]),
                    counts: vec![3, 0, u64::MAX - 3, 1],
                    sum: -0.0,
                    min: None,
                    max: Some(f64::INFINITY),
                })),
            },
        ],
        events: vec![Event {
            title: "deploy".into(),
            text: "line\nline".into(),
            timestamp: Some(-5),
            hostname: None,
            aggregation_key: Some("k".into()),
            priority: None,
            source_type: None,
            alert_type: Some("info".into()),
            tags: vec!["a:b".into()],
        }],
        service_checks: vec![ServiceCheck {
            name: "db".into(),
            status: 2,
            timestamp: None,
            hostname: Some("h".into()),
            message: None,
            tags: vec![],
        }],
    }
}

/// Everything a window carries, the skipped fields included, as comparable text.
fn fingerprint(w: &Window) -> String {
    let hidden: Vec<String> = w
        .series
        .iter()
        .map(|s| match &s.value {
            Value::Set { members, .. } => format!("{}:{members:?}", s.key.hash),
            Value::Summary(sum) => format!("{}:{:?}", s.key.hash, sum.sketch),
            _ => format!("{}:{:?}", s.key.hash, s.value),
        })
        .collect();
    format!("{}|{hidden:?}", serde_json::to_string(w).unwrap())
}

fn encoded(w: &Window) -> Vec<u8> {
    let mut buf = Vec::new();
    encode(w, &mut buf);
    buf
}

/// A window written to the spool's binary form reads back identical, sketch bins, set
/// members, key hashes, signed zeros and events included.
#[test]
fn a_window_round_trips_exactly_through_its_binary_form() {
    let window = rich_window(3);
    let bytes = encoded(&window);
    let back = decode(&bytes).unwrap();
    assert_eq!(fingerprint(&back), fingerprint(&window));
    assert!(matches!(back.series[0].value, Value::Counter { rate, .. } if rate.is_sign_negative()));
    let meta = peek(&bytes).unwrap();
    assert_eq!((meta.end_ms, meta.series), (4_000, 5));
    for cut in [0, 1, bytes.len() / 2, bytes.len() - 1] {
        assert!(decode(&bytes[..cut]).is_err(), "a window cut at {cut} bytes is refused");
    }
}

/// A spooled sketch is rebuilt only with bins at indexes a finite value can have: the
/// extremes a real sketch reaches come back, an offset beyond them (which made iterating
/// the bins overflow; found by the `spool_decode` fuzzer) is refused.
#[test]
fn a_spooled_sketch_with_bins_beyond_any_value_is_refused() {
    let mut extremes = Sketch::new();
    for v in [f64::MAX, -f64::MAX, crate::sketch::MIN_INDEXABLE, -crate::sketch::MIN_INDEXABLE] {
        extremes.add(v, 1.0);
    }
    let raw = extremes.raw_parts();
    let (positive, negative) = ((raw.positive.0, raw.positive.1.to_vec()), (raw.negative.0, raw.negative.1.to_vec()));
    let rebuilt = Sketch::from_raw_parts(positive.clone(), negative, raw.zero, raw.count);
    assert_eq!(rebuilt.as_ref(), Some(&extremes), "the widest real sketch comes back");

    let (offset, bins) = positive;
    let past_top = offset + i32::try_from(bins.len()).unwrap();
    assert_eq!(Sketch::from_raw_parts((offset, [bins.clone(), vec![1.0]].concat()), (0, vec![]), 0.0, 1.0), None);
    assert_eq!(Sketch::from_raw_parts((past_top, vec![1.0]), (0, vec![]), 0.0, 1.0), None);
    let mut smallest = Sketch::new();
    smallest.add(crate::sketch::MIN_INDEXABLE, 1.0);
    let bottom = smallest.raw_parts().positive.0;
    assert!(Sketch::from_raw_parts((bottom, vec![1.0]), (0, vec![]), 0.0, 1.0).is_some());
    assert_eq!(Sketch::from_raw_parts((bottom - 1, vec![1.0]), (0, vec![]), 0.0, 1.0), None);
    assert_eq!(Sketch::from_raw_parts((i32::MAX, vec![1.0, 1.0]), (0, vec![]), 0.0, 2.0), None);
    assert_eq!(Sketch::from_raw_parts((0, vec![]), (i32::MIN, vec![1.0]), 0.0, 1.0), None);
}

fn open(dir: &Path) -> (Spool, super::Recovered) {
    Spool::open(dir, 1 << 20, Fsync::EveryWindow).unwrap()
}

fn seqs(recovered: &super::Recovered) -> Vec<u64> {
    recovered.pending.iter().map(|p| p.location.seq).collect()
}

fn segments(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "seg"))
        .collect();
    files.sort();
    files
}

/// Windows released before a restart are not replayed; the others are, in order, readable,
/// and the sequence goes on from where it stopped.
#[test]
fn released_windows_are_not_replayed_and_sequences_continue_across_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let (mut spool, recovered) = open(dir.path());
    assert!(recovered.pending.is_empty());
    let id = spool.id();
    for i in 1..=5 {
        let location = spool.append(&encoded(&rich_window(i))).unwrap().location;
        assert_eq!(location.seq, i);
    }
    spool.release_through(2).unwrap();
    drop(spool);

    let (mut spool, recovered) = open(dir.path());
    assert_eq!(spool.id(), id, "the spool keeps its id");
    assert_eq!(seqs(&recovered), [3, 4, 5]);
    assert_eq!(recovered.corrupt, 0);
    let third = decode(&super::read_payload(&recovered.pending[0].location).unwrap()).unwrap();
    assert_eq!(fingerprint(&third), fingerprint(&rich_window(3)));
    assert_eq!(spool.append(&encoded(&rich_window(6))).unwrap().location.seq, 6);
    spool.release_through(6).unwrap();
    drop(spool);

    let (_, recovered) = open(dir.path());
    assert!(recovered.pending.is_empty());
    assert_eq!(segments(dir.path()).len(), 1, "fully released segments are deleted");
}

/// How far a window's delivery got survives a restart, the furthest record kept, so a
/// replay resumes after the batches acknowledged; a released window's progress is forgotten
/// with it.
#[test]
fn batch_progress_survives_a_restart_until_the_window_is_released() {
    let dir = tempfile::tempdir().unwrap();
    let (mut spool, _) = open(dir.path());
    for i in 1..=2 {
        spool.append(&encoded(&rich_window(i))).unwrap();
    }
    let furthest = Progress { batches: 3, series: 3_000 };
    spool.progress(1, Progress { batches: 1, series: 1_000 }).unwrap();
    spool.progress(1, furthest).unwrap();
    drop(spool);

    let (mut spool, recovered) = open(dir.path());
    let done: Vec<(u64, Progress)> = recovered.pending.iter().map(|p| (p.location.seq, p.progress)).collect();
    assert_eq!(done, [(1, furthest), (2, Progress::default())]);
    spool.release_through(1).unwrap();
    drop(spool);

    let (_, recovered) = open(dir.path());
    let done: Vec<(u64, Progress)> = recovered.pending.iter().map(|p| (p.location.seq, p.progress)).collect();
    assert_eq!(done, [(2, Progress::default())]);
}

/// A record torn at the tail (a crash in the middle of a write) is skipped and counted; every
/// record before it replays.
#[test]
fn a_torn_tail_is_counted_and_the_records_before_it_replay() {
    let dir = tempfile::tempdir().unwrap();
    let (mut spool, _) = open(dir.path());
    for i in 1..=3 {
        spool.append(&encoded(&rich_window(i))).unwrap();
    }
    drop(spool);
    let last = segments(dir.path()).pop().unwrap();
    let len = std::fs::metadata(&last).unwrap().len();
    std::fs::OpenOptions::new().write(true).open(&last).unwrap().set_len(len - 10).unwrap();

    let (mut spool, recovered) = open(dir.path());
    assert_eq!(seqs(&recovered), [1, 2]);
    assert_eq!(recovered.corrupt, 1);
    let next = spool.append(&encoded(&rich_window(4))).unwrap().location.seq;
    assert!(next > 3 + 1000, "a torn record's seq is never handed out again: {next}");
}

/// A flipped bit in the middle of a segment costs that record only: recovery finds the next
/// good record by its magic and checksum, so later records are not truncated.
#[test]
fn a_corrupt_record_in_the_middle_is_skipped_and_later_records_replay() {
    let dir = tempfile::tempdir().unwrap();
    let (mut spool, _) = open(dir.path());
    let mut second = None;
    for i in 1..=3 {
        let location = spool.append(&encoded(&rich_window(i))).unwrap().location;
        if i == 2 {
            second = Some(location);
        }
    }
    drop(spool);
    let second = second.unwrap();
    let mut bytes = std::fs::read(&second.path).unwrap();
    bytes[second.offset as usize + 30] ^= 0x40;
    std::fs::write(&second.path, bytes).unwrap();

    let (_, recovered) = open(dir.path());
    assert_eq!(seqs(&recovered), [1, 3]);
    assert_eq!(recovered.corrupt, 1);
}

/// A file whose header is not a segment's is moved aside and counted, never deleted.
#[test]
fn a_foreign_segment_file_is_moved_aside_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("00000000000000000001.seg"), b"not a segment").unwrap();
    let (_, recovered) = open(dir.path());
    assert_eq!(recovered.corrupt, 1);
    assert!(dir.path().join("00000000000000000001.seg.corrupt").exists());
}

/// Small segments rotate; a segment is deleted once every window in it is released, and the
/// release point survives in the newest segment.
#[test]
fn segments_rotate_and_are_deleted_once_released() {
    let dir = tempfile::tempdir().unwrap();
    let (mut spool, _) = Spool::open(dir.path(), 4096, Fsync::Never).unwrap();
    let payload = vec![7u8; 1500];
    for _ in 0..9 {
        spool.append(&payload).unwrap();
    }
    assert!(segments(dir.path()).len() >= 3, "{:?}", segments(dir.path()));
    spool.release_through(9).unwrap();
    spool.append(&payload).unwrap();
    assert_eq!(segments(dir.path()).len(), 1, "only the active segment is left");
    drop(spool);
    let (_, recovered) = Spool::open(dir.path(), 4096, Fsync::Never).unwrap();
    assert_eq!(
        recovered.pending.iter().map(|p| p.location.seq).collect::<Vec<_>>(),
        Vec::<u64>::new(),
        "payloads that are not windows are counted, not replayed"
    );
    assert_eq!(recovered.corrupt, 1);
}

/// The record frame: a good record parses back; one whose checksum does not match does not.
#[test]
fn records_carry_kind_seq_and_a_checksum() {
    let mut file = segment::file_header(99).to_vec();
    segment::encode_record(Kind::Window, 5, b"abc", &mut file);
    segment::encode_record(Kind::Release, 5, b"", &mut file);
    assert_eq!(segment::parse_file_header(&file), Some(99));
    let scan = segment::scan(&file);
    assert_eq!(scan.records.len(), 2);
    assert_eq!((scan.records[0].kind, scan.records[0].seq, scan.records[0].payload_len), (Kind::Window, 5, 3));
    assert_eq!(scan.records[1].kind, Kind::Release);
    let last = file.len() - 1;
    file[last] ^= 1;
    let scan = segment::scan(&file);
    assert_eq!((scan.records.len(), scan.corrupt), (1, 1));
}

/// A spool open in one process cannot be opened again until it is closed: two agents never
/// append to one spool.
#[test]
fn a_spool_is_locked_while_open() {
    let dir = tempfile::tempdir().unwrap();
    let (first, _) = open(dir.path());
    let err = Spool::open(dir.path(), 1 << 20, Fsync::Never).unwrap_err();
    assert!(err.to_string().contains("the spool is locked"), "{err}");
    drop(first);
    assert!(Spool::open(dir.path(), 1 << 20, Fsync::Never).is_ok());
}
