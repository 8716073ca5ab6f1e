//! Project tasks. `cargo xtask gen` regenerates `generated/` from `spec/`;
//! `cargo xtask gen --check` changes nothing and fails naming each stale file;
//! `cargo xtask mutants` checks that each deliberate fault of the mock fails the
//! conformance suite; `cargo xtask soak` loads the mock binary and checks every answer;
//! `cargo xtask bench` measures the mock, the client and the generator and writes
//! `BENCHMARKS.md` (`--quick` for a short run).
//!
//! This is the only code in the workspace that writes generated files.

mod bench;
mod mutants;
mod soak;
#[cfg(test)]
mod tidy;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(about = "Tasks of the tiktok-v2 workspace")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Regenerate the client crate's source, generated/REFERENCE.md, generated/openapi.yaml and generated/tools.json from spec/.
    Gen {
        /// Change nothing; exit non-zero naming each file that differs from what the spec gives.
        #[arg(long)]
        check: bool,
    },
    /// Prove the conformance suite has teeth: turn on each deliberate fault of the mock in
    /// turn and check that the suite fails, naming the property that caught it.
    Mutants {
        /// Run only this mutant (its kebab-case name).
        #[arg(long)]
        only: Option<String>,
        /// Run the whole suite for each mutant (slower), listing every test that fails.
        #[arg(long)]
        full: bool,
    },
    /// Benchmarks (release build, wrk, pinned CPUs): the mock against a bare axum handler,
    /// paging at scale, memory, uploads, the generator and the client; writes BENCHMARKS.md.
    Bench(bench::Options),
    /// Load the mock binary on loopback: many connections, a mix of endpoints, tokens past
    /// their limits; fails on any answer the rate-limit model does not predict, or on memory
    /// that keeps growing. Never part of `cargo test`.
    Soak {
        /// How long to load it.
        #[arg(long, default_value_t = 60)]
        seconds: u64,
        /// Concurrent connections.
        #[arg(long, default_value_t = 256)]
        connections: usize,
        /// Use the debug build (what `cargo test` built) instead of a release build.
        #[arg(long)]
        debug: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let root = workspace_root();
    let result = match cli.command {
        Command::Gen { check } => generate(&root, check),
        Command::Mutants { only, full } => mutants::run(&root, only.as_deref(), full),
        Command::Bench(options) => bench::run(&root, options),
        Command::Soak {
            seconds,
            connections,
            debug,
        } => soak::run(&root, seconds, connections, debug),
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn workspace_root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().unwrap_or(manifest).to_path_buf()
}

fn generate(root: &Path, check: bool) -> anyhow::Result<ExitCode> {
    let files = match tiktok_codegen::generate(&root.join("spec")) {
        Ok(files) => files,
        Err(error) => {
            eprintln!("{error}");
            return Ok(ExitCode::FAILURE);
        }
    };
    let mut stale = Vec::new();
    let mut written = 0;
    for (relative, contents) in &files {
        let path = root.join(relative);
        let current = std::fs::read_to_string(&path).ok();
        if current.as_deref() == Some(contents.as_str()) {
            continue;
        }
        if check {
            stale.push(relative.clone());
            continue;
        }
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("creating {}", parent.display()))?;
        }
        std::fs::write(&path, contents).with_context(|| format!("writing {relative}"))?;
        println!("wrote {relative}");
        written += 1;
    }
    if check {
        if stale.is_empty() {
            println!(
                "generated/ is up to date with spec/ ({} files)",
                files.len()
            );
            return Ok(ExitCode::SUCCESS);
        }
        for relative in &stale {
            eprintln!("stale: {relative}");
        }
        eprintln!(
            "{} generated file(s) differ from spec/; run `cargo xtask gen`",
            stale.len()
        );
        return Ok(ExitCode::FAILURE);
    }
    println!(
        "{written} file(s) written, {} unchanged",
        files.len() - written
    );
    Ok(ExitCode::SUCCESS)
}
