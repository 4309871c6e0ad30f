use std::io::Read as _;
use std::os::unix::fs::MetadataExt as _;
use std::sync::atomic::AtomicBool;

use super::*;
use crate::units::ByteSize;

/// Follows `path` as `tail -F` does: reads the open file to its end, and when `path` names
/// another file (a rotation), reads what is left of the old one and opens the new one.
/// Returns every complete line read; a line is complete at its newline, and the text after
/// the last newline of a file that was rotated away is returned as a partial line.
fn tail(path: &Path, done: &AtomicBool) -> (Vec<String>, Vec<String>) {
    let (mut lines, mut partial) = (Vec::new(), Vec::new());
    let mut open = None::<(std::fs::File, u64)>;
    let mut pending = Vec::new();
    loop {
        let finished = done.load(Relaxed);
        if open.is_none() {
            match std::fs::File::open(path) {
                Ok(file) => {
                    let inode = file.metadata().unwrap().ino();
                    open = Some((file, inode));
                }
                Err(_) if !finished => continue,
                Err(_) => break,
            }
        }
        let (file, inode) = open.as_mut().unwrap();
        let mut chunk = Vec::new();
        file.read_to_end(&mut chunk).unwrap();
        pending.extend_from_slice(&chunk);
        while let Some(end) = pending.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = pending.drain(..=end).collect();
            lines.push(String::from_utf8(line).unwrap());
        }
        let moved = std::fs::metadata(path).map_or(true, |m| m.ino() != *inode);
        if moved {
            // Whatever was written to the old file was written before the rename: drain it.
            let mut rest = Vec::new();
            file.read_to_end(&mut rest).unwrap();
            pending.extend_from_slice(&rest);
            while let Some(end) = pending.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = pending.drain(..=end).collect();
                lines.push(String::from_utf8(line).unwrap());
            }
            if !pending.is_empty() {
                partial.push(String::from_utf8_lossy(&std::mem::take(&mut pending)).into_owned());
            }
            open = None;
        } else if finished && chunk.is_empty() {
            // Nothing was written since `done`, and the file was read to its end once more.
            break;
        }
    }
    if !pending.is_empty() {
        partial.push(String::from_utf8_lossy(&pending).into_owned());
    }
    (lines, partial)
}

/// A reader tailing the current file while hundreds of windows of hundreds of series are
/// written and the file is rotated every few windows reads each line whole: no read ever
/// ends a file in the middle of a line. (A reader slower than two rotations misses the file
/// between them, as `tail -F` would; the archives and the current file together hold every
/// window once, in order.)
#[test]
fn a_reader_tailing_the_file_never_sees_a_partial_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("metrics.jsonl");
    let mut config = FileConfig::new(&path);
    config.rotate_size = Some(ByteSize(256 * 1024));
    config.keep_files = Some(1000);
    let done = Arc::new(AtomicBool::new(false));
    let reader = {
        let (path, done) = (path.clone(), Arc::clone(&done));
        std::thread::spawn(move || tail(&path, &done))
    };
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let windows = 300u64;
    runtime.block_on(async {
        let mut file = File::new("export", &config, dir.path(), Arc::default()).unwrap();
        for id in 1..=windows {
            write(&mut file, &counters(id, 300)).await;
        }
    });
    done.store(true, Relaxed);
    let (lines, partial) = reader.join().unwrap();
    assert_eq!(partial, Vec::<String>::new(), "partial lines were read");
    let read: Vec<u64> = lines
        .iter()
        .map(|l| {
            let value: serde_json::Value = serde_json::from_str(l).unwrap();
            assert_eq!(value["series"].as_array().unwrap().len(), 300);
            value["id"].as_u64().unwrap()
        })
        .collect();
    assert!(read.windows(2).all(|w| w[0] < w[1]), "read out of order: {read:?}");
    // However slow the reader (two cores shared with builds), it reads at least the current
    // file to its end.
    assert!(read.len() >= 5, "the reader read only {} windows", read.len());
    let files = names(dir.path());
    assert!(files.len() > 20, "the file was rotated only {} times", files.len() - 1);
    let kept: Vec<u64> = files.iter().flat_map(|n| ids(&dir.path().join(n))).collect();
    assert_eq!(kept, (1..=windows).collect::<Vec<_>>());
}
