//! The `gongshi` binary as the tests run it.

use std::process::Command;

/// The binary, without the test run's `GONGSHI_*` settings (a developer's
/// environment must not change what a test sees).
pub fn gongshi() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_gongshi"));
    for (k, _) in std::env::vars() {
        if k.starts_with("GONGSHI_") {
            c.env_remove(k);
        }
    }
    c
}

/// [`gongshi`], run in `dir`.
pub fn gongshi_in(dir: &std::path::Path) -> Command {
    let mut c = gongshi();
    c.current_dir(dir);
    c
}

/// Adds `serve` with only the gRPC listener, on `addr`, over the database at
/// `url`: no public or admin listener, so several servers run at once and
/// beside the tests that hold the default ports.
pub fn serve_grpc_only<'c>(cmd: &'c mut Command, addr: &str, url: &str) -> &'c mut Command {
    cmd.args(["serve", "--listen", addr, "--database-url", url]);
    cmd.args(["--http-listen", "off", "--admin-listen", "off"])
}
