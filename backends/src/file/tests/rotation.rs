use super::super::archive::{Names, stamp};
use super::*;
use crate::units::ByteSize;

/// With `rotate_size`, no file grows past the limit: a file is archived before the window
/// that would overflow it, the archives hold every window exactly once and in order, and
/// their names sort by time.
#[tokio::test]
async fn a_file_is_rotated_before_a_window_would_pass_rotate_size() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("metrics.jsonl");
    let line = crate::file::json_line(&counters(1, 20)).unwrap().len() as u64;
    let mut config = FileConfig::new(&path);
    // Three windows fit, the fourth does not.
    config.rotate_size = Some(ByteSize(line * 3 + line / 2));
    let clock = TestClock::new();
    let mut file = file_with_clock(dir.path(), &config, &clock);
    for id in 1..=10 {
        write(&mut file, &counters(id, 20)).await;
        clock.advance(10);
    }
    let names = names(dir.path());
    // Rotations before windows 4, 7 and 10, at 30, 60 and 90 s.
    assert_eq!(
        names,
        [
            "metrics-20261203T141530Z.jsonl",
            "metrics-20261203T141600Z.jsonl",
            "metrics-20261203T141630Z.jsonl",
            "metrics.jsonl"
        ]
    );
    let mut all = Vec::new();
    for name in &names {
        let p = dir.path().join(name);
        assert!(std::fs::metadata(&p).unwrap().len() <= config.rotate_size.unwrap().0, "{name} is over the limit");
        all.extend(ids(&p));
    }
    assert_eq!(all, (1..=10).collect::<Vec<_>>());
}

/// A window larger than `rotate_size` is never split: it goes whole into a file of its own.
#[tokio::test]
async fn a_window_larger_than_rotate_size_goes_whole_into_one_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.jsonl");
    let mut config = FileConfig::new(&path);
    config.rotate_size = Some(ByteSize(100));
    let clock = TestClock::new();
    let mut file = file_with_clock(dir.path(), &config, &clock);
    for id in 1..=4 {
        write(&mut file, &counters(id, 300)).await;
        clock.advance(1);
    }
    let names = names(dir.path());
    assert_eq!(names.len(), 4);
    for (name, id) in names.iter().zip(1..) {
        assert_eq!(ids(&dir.path().join(name)), [id], "{name}");
    }
}

/// With `rotate_every`, the first window written at least that long after the file was
/// started begins a new file; the archive is named by the time of the rotation.
#[tokio::test]
async fn a_file_is_rotated_once_it_is_rotate_every_old() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("metrics.jsonl");
    let mut config = FileConfig::new(&path);
    config.rotate_every = Some(crate::units::Duration::from_secs(60));
    let clock = TestClock::new();
    let mut file = file_with_clock(dir.path(), &config, &clock);
    // Windows at 0, 10, …, 150 s: rotations at 60 and 120 s.
    for id in 1..=16 {
        write(&mut file, &counters(id, 3)).await;
        clock.advance(10);
    }
    assert_eq!(
        names(dir.path()),
        ["metrics-20261203T141600Z.jsonl", "metrics-20261203T141700Z.jsonl", "metrics.jsonl"]
    );
    assert_eq!(ids(&dir.path().join("metrics-20261203T141600Z.jsonl")), (1..=6).collect::<Vec<_>>());
    assert_eq!(ids(&dir.path().join("metrics-20261203T141700Z.jsonl")), (7..=12).collect::<Vec<_>>());
    assert_eq!(ids(&path), (13..=16).collect::<Vec<_>>());
}

/// Archives rotated within one second get a sequence suffix and still sort in the order
/// they were written, past ten of them too.
#[tokio::test]
async fn archives_of_one_second_sort_in_the_order_they_were_rotated() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("metrics.jsonl");
    let mut config = FileConfig::new(&path);
    config.rotate_size = Some(ByteSize(1));
    let clock = TestClock::new();
    let mut file = file_with_clock(dir.path(), &config, &clock);
    for id in 1..=13 {
        write(&mut file, &counters(id, 1)).await;
    }
    clock.advance(1);
    write(&mut file, &counters(14, 1)).await;
    let names = names(dir.path());
    assert_eq!(names[0], "metrics-20261203T141500Z.jsonl");
    assert_eq!(names[1], "metrics-20261203T141500Z_001.jsonl");
    assert_eq!(names[11], "metrics-20261203T141500Z_011.jsonl");
    assert_eq!(names[12], "metrics-20261203T141501Z.jsonl");
    assert_eq!(names[13], "metrics.jsonl");
    let order: Vec<u64> = names.iter().flat_map(|n| ids(&dir.path().join(n))).collect();
    assert_eq!(order, (1..=14).collect::<Vec<_>>());
}

/// A name without an extension, or with dots before the last one, keeps its shape; only
/// names of that pattern are taken for archives.
#[test]
fn archive_names_keep_the_file_name_around_the_time() {
    let t = at(0);
    assert_eq!(stamp(t), "20261203T141500Z");
    let dir = tempfile::tempdir().unwrap();
    let names = Names::of(&dir.path().join("sluice.metrics.csv"));
    assert_eq!(names.next(t), dir.path().join("sluice.metrics-20261203T141500Z.csv"));
    let bare = Names::of(&dir.path().join("export"));
    assert_eq!(bare.next(t), dir.path().join("export-20261203T141500Z"));
    for other in [
        "export",
        "export-notes",
        "export-20261203T141500",
        "export-20261203T141500Z_1",
        "export-20261303T141500Z",
        "exported-20261203T141500Z",
    ] {
        std::fs::write(dir.path().join(other), "x").unwrap();
    }
    std::fs::write(dir.path().join("export-20261203T141500Z_004"), "x").unwrap();
    let found: Vec<_> = bare.list().unwrap().into_iter().map(|a| (a.name, a.rotated)).collect();
    assert_eq!(found, [("export-20261203T141500Z_004".to_owned(), t)]);
}
