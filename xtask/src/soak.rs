//! `cargo xtask soak`: builds the mock binary and the soak client (release unless
//! `--debug`), then runs the soak (`conformance/src/bin/soak.rs`) against it.

use std::path::Path;
use std::process::{Command, ExitCode};

use anyhow::{Context, bail};

pub fn run(root: &Path, seconds: u64, connections: usize, debug: bool) -> anyhow::Result<ExitCode> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut build = Command::new(&cargo);
    build.current_dir(root).args([
        "build",
        "-p",
        "tiktok-mock",
        "--bin",
        "tiktok-mock",
        "-p",
        "tiktok-conformance",
        "--bin",
        "soak",
    ]);
    if !debug {
        build.arg("--release");
    }
    if !build.status().context("running cargo build")?.success() {
        bail!("the build failed");
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| root.join("target"));
    let profile = target.join(if debug { "debug" } else { "release" });
    let status = Command::new(profile.join("soak"))
        .arg("--mock")
        .arg(profile.join("tiktok-mock"))
        .args(["--seconds", &seconds.to_string()])
        .args(["--connections", &connections.to_string()])
        .status()
        .context("running the soak")?;
    Ok(if status.success() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
