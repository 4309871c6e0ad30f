use super::*;

/// A file that cannot be written (its directory is missing) fails the send with an error
/// that names the path and that the delivery task retries; once the directory exists the same
/// window is written whole, and nothing of the failed attempt is in the file.
#[tokio::test]
async fn a_missing_directory_fails_with_the_path_and_the_retry_writes_the_window() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("later").join("metrics.jsonl");
    let mut file = file_with_clock(dir.path(), &FileConfig::new(&path), &TestClock::new());
    let window = counters(1, 5);
    let batches = file.encode(&window).unwrap();
    let error = file.send(&batches[0].payload).await.unwrap_err();
    assert!(error.is_retriable(), "{error}");
    assert!(error.to_string().contains(&path.display().to_string()), "{error}");
    std::fs::create_dir(dir.path().join("later")).unwrap();
    file.send(&batches[0].payload).await.unwrap();
    assert_eq!(ids(&path), [1]);
}

/// A rotation never replaces what already has the archive's name (here a directory someone
/// made): it takes the next sequence number, and no window is lost.
#[tokio::test]
async fn a_rotation_never_replaces_a_file_that_has_the_archive_name() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("metrics.jsonl");
    let mut config = FileConfig::new(&path);
    config.rotate_size = Some(crate::units::ByteSize(1));
    let clock = TestClock::new();
    let mut file = file_with_clock(dir.path(), &config, &clock);
    write(&mut file, &counters(1, 2)).await;
    // Where the archive would go, a directory with a file in it.
    let blocker = dir.path().join("metrics-20261203T141500Z.jsonl");
    std::fs::create_dir(&blocker).unwrap();
    std::fs::write(blocker.join("x"), "x").unwrap();
    let batches = file.encode(&counters(2, 2)).unwrap();
    file.send(&batches[0].payload).await.unwrap();
    assert_eq!(ids(&dir.path().join("metrics-20261203T141500Z_001.jsonl")), [1]);
    assert_eq!(ids(&path), [2]);
    assert_eq!(std::fs::read_to_string(blocker.join("x")).unwrap(), "x");
}
