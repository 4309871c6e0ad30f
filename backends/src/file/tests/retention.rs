use super::*;
use crate::units::ByteSize;

/// `keep_files` keeps the newest archives and deletes the older ones, counting them; files
/// that are not archives of this file stay, whatever they look like.
#[tokio::test]
async fn keep_files_deletes_the_oldest_archives_only() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("metrics.jsonl");
    let strangers = ["metrics-notes.jsonl", "other-20261203T141500Z.jsonl", "metrics-20261203T141500Z.csv"];
    for name in strangers {
        std::fs::write(dir.path().join(name), "keep me\n").unwrap();
    }
    let mut config = FileConfig::new(&path);
    config.rotate_size = Some(ByteSize(1));
    config.keep_files = Some(2);
    let clock = TestClock::new();
    let mut file = file_with_clock(dir.path(), &config, &clock);
    for id in 1..=7 {
        write(&mut file, &counters(id, 2)).await;
        clock.advance(60);
    }
    // Six rotations (before windows 2 to 7), of which the last two stay.
    assert_eq!(file.removed_archives(), 4);
    let mut expected = vec![
        "metrics-20261203T142000Z.jsonl".to_owned(),
        "metrics-20261203T142100Z.jsonl".to_owned(),
        "metrics.jsonl".to_owned(),
    ];
    expected.extend(strangers.iter().map(|s| (*s).to_owned()));
    expected.sort();
    assert_eq!(names(dir.path()), expected);
    assert_eq!(ids(&dir.path().join("metrics-20261203T142000Z.jsonl")), [5]);
    assert_eq!(ids(&dir.path().join("metrics-20261203T142100Z.jsonl")), [6]);
    assert_eq!(ids(&path), [7]);
}

/// `keep_for` deletes archives rotated longer ago than that, an earlier run's included, at
/// the next window; younger archives and the current file stay.
#[tokio::test]
async fn keep_for_deletes_archives_older_than_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("metrics.jsonl");
    // Left by an earlier run, a day before.
    std::fs::write(dir.path().join("metrics-20261202T141500Z.jsonl"), "{}\n").unwrap();
    let mut config = FileConfig::new(&path);
    config.rotate_every = Some(crate::units::Duration::from_secs(60));
    config.keep_for = Some(crate::units::Duration::from_secs(300));
    let clock = TestClock::new();
    let mut file = file_with_clock(dir.path(), &config, &clock);
    write(&mut file, &counters(1, 2)).await;
    assert_eq!(file.removed_archives(), 1);
    // One window a minute for ten minutes: an archive a minute, each kept five minutes.
    for id in 2..=11 {
        clock.advance(60);
        write(&mut file, &counters(id, 2)).await;
    }
    // Now is 14:25:00; archives from 14:16 to 14:25 were written, those of 14:20 and
    // later are at most five minutes old.
    assert_eq!(
        names(dir.path()),
        [
            "metrics-20261203T142000Z.jsonl",
            "metrics-20261203T142100Z.jsonl",
            "metrics-20261203T142200Z.jsonl",
            "metrics-20261203T142300Z.jsonl",
            "metrics-20261203T142400Z.jsonl",
            "metrics-20261203T142500Z.jsonl",
            "metrics.jsonl",
        ]
    );
    assert_eq!(file.removed_archives(), 1 + 4);
    assert_eq!(ids(&dir.path().join("metrics-20261203T142500Z.jsonl")), [10]);
    assert_eq!(ids(&path), [11]);
}

/// Retention keys without rotation, and zero sizes and durations, are refused with the key.
#[test]
fn retention_without_rotation_and_zero_limits_are_refused_by_key() {
    let mut config = FileConfig::new("/var/lib/sluice/metrics.jsonl");
    config.keep_files = Some(3);
    assert_eq!(config.validate().unwrap_err().key, Some("keep_files"));
    config.keep_files = None;
    config.keep_for = Some(crate::units::Duration::from_secs(60));
    assert_eq!(config.validate().unwrap_err().key, Some("keep_for"));
    config.rotate_size = Some(ByteSize(0));
    assert_eq!(config.validate().unwrap_err().key, Some("rotate_size"));
    config.rotate_size = None;
    config.rotate_every = Some(crate::units::Duration::from_secs(0));
    assert_eq!(config.validate().unwrap_err().key, Some("rotate_every"));
    config.rotate_every = Some(crate::units::Duration::from_secs(3600));
    assert!(config.validate().is_ok());
}

/// `keep_files = 0` deletes each archive as it is made: only the current file stays.
#[tokio::test]
async fn keep_files_zero_keeps_only_the_current_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("metrics.jsonl");
    let mut config = FileConfig::new(&path);
    config.rotate_size = Some(ByteSize(1));
    config.keep_files = Some(0);
    let clock = TestClock::new();
    let mut file = file_with_clock(dir.path(), &config, &clock);
    for id in 1..=4 {
        write(&mut file, &counters(id, 2)).await;
        clock.advance(1);
    }
    assert_eq!(names(dir.path()), ["metrics.jsonl"]);
    assert_eq!(file.removed_archives(), 3);
    assert_eq!(ids(&path), [4]);
}
