//! Compiles the vendored OTLP metrics protocol (`proto/opentelemetry/…`) and `google.rpc.Status`
//! with a pure-Rust protobuf compiler, so building needs no system `protoc`. The descriptor set
//! is written too: the OTLP receiver reads OTLP JSON through it (see `src/sources/otlp/proto.rs`).

use std::path::PathBuf;

/// The files compiled; each imports the others it needs from `proto/`.
const FILES: [&str; 2] = ["opentelemetry/proto/collector/metrics/v1/metrics_service.proto", "google/rpc/status.proto"];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let proto_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("proto");
    println!("cargo:rerun-if-changed={}", proto_dir.join("opentelemetry").display());
    println!("cargo:rerun-if-changed={}", proto_dir.join("google").display());
    let descriptors = protox::compile(FILES, [&proto_dir])?;
    let out = PathBuf::from(std::env::var("OUT_DIR")?);
    std::fs::write(out.join("otlp_descriptors.bin"), prost::Message::encode_to_vec(&descriptors))?;
    prost_build::Config::new().compile_fds(descriptors)?;
    Ok(())
}
