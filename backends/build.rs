//! Compiles the vendored Prometheus protocols (`proto/metrics.proto`, the exposition data
//! model; `proto/remote.proto` with `proto/types.proto`, remote write 1.0) with a pure-Rust
//! protobuf compiler, so building needs no system `protoc`.

use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let proto_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../proto");
    let files = ["metrics.proto", "remote.proto", "types.proto"].map(|name| proto_dir.join(name));
    for file in &files {
        println!("cargo:rerun-if-changed={}", file.display());
    }
    let descriptors = protox::compile(&files[..2], [&proto_dir])?;
    prost_build::Config::new().compile_fds(descriptors)?;
    Ok(())
}
