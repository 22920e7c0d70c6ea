//! Compiles `proto/gongshi/v1/*.proto` with the pure-Rust `protox` compiler, so
//! building needs no system `protoc`, and writes the descriptor set that server
//! reflection serves.

use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let files = [
        "proto/gongshi/v1/common.proto",
        "proto/gongshi/v1/enforcement.proto",
        "proto/gongshi/v1/disclosure.proto",
        "proto/gongshi/v1/repair.proto",
        "proto/gongshi/v1/notice.proto",
        "proto/gongshi/v1/report.proto",
    ];
    println!("cargo:rerun-if-changed=migrations");
    for f in &files {
        println!("cargo:rerun-if-changed={f}");
    }
    let fds = protox::compile(files, ["proto"])?;
    let out = PathBuf::from(std::env::var("OUT_DIR")?);
    std::fs::write(out.join("gongshi_descriptor.bin"), prost::Message::encode_to_vec(&fds))?;
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        // An RPC added to the proto answers UNIMPLEMENTED until it is written.
        .generate_default_stubs(true)
        // Decode errors are INVALID_ARGUMENT (MALFORMED_REQUEST), not tonic's INTERNAL.
        .codec_path("crate::api::codec::GongshiCodec")
        .compile_fds(fds)?;
    Ok(())
}
