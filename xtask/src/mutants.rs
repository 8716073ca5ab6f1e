//! `cargo xtask mutants`: proves the conformance suite has teeth.
//!
//! Runs `cargo test -p tiktok-conformance --features mutants` once with no mutant live (it
//! must pass), then once per deliberate fault of `mock-server/src/mutants.rs` with
//! `TIKTOK_MOCK_MUTANT` naming it: the property meant to catch that fault must fail. By
//! default only that property runs per fault; `--full` runs the whole suite each time
//! and prints every test that caught it.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, ExitCode, Stdio};

use anyhow::{Context, bail};

/// Each mutant (its `TIKTOK_MOCK_MUTANT` name) and the property (`test file::test`) that
/// is there to catch it.
const EXPECTED: [(&str, &str); 8] = [
    (
        "rate-limit-off-by-one",
        "rate_limits::a_call_passes_exactly_when_the_sliding_window_has_room",
    ),
    (
        "fixed-window",
        "rate_limits::a_call_passes_exactly_when_the_sliding_window_has_room",
    ),
    (
        "wrong-scope",
        "scope_matrix::every_call_succeeds_exactly_when_the_spec_grants_it",
    ),
    (
        "field-scope-skipped",
        "scope_matrix::every_call_succeeds_exactly_when_the_spec_grants_it",
    ),
    (
        "duplicate-across-pages",
        "paging::a_walk_returns_every_video_exactly_once_newest_first",
    ),
    (
        "chunk-boundary-off-by-one",
        "chunk_rules::init_accepts_exactly_what_the_chunk_rules_accept",
    ),
    (
        "webhook-wrong-bytes",
        "webhooks::deliveries_verify_forgeries_fail_and_duplicates_collapse",
    ),
    (
        "refresh-alive-after-revoke",
        "state_machine::the_mock_follows_the_oauth_and_posting_model",
    ),
];

/// What one run of the suite gave.
struct Run {
    passed: bool,
    failed: BTreeSet<String>,
    output: String,
}

pub fn run(root: &Path, only: Option<&str>, full: bool) -> anyhow::Result<ExitCode> {
    check_names(root)?;
    let selected: Vec<(&str, &str)> = EXPECTED
        .iter()
        .copied()
        .filter(|(name, _)| only.is_none_or(|only| only == *name))
        .collect();
    if selected.is_empty() {
        bail!("no mutant named {only:?}");
    }
    let baseline = suite(root, None, None)?;
    if !baseline.passed {
        eprintln!("{}", baseline.output);
        bail!(
            "the suite fails with no mutant live ({:?}): fix that first",
            baseline.failed
        );
    }
    println!("baseline: the suite passes with no mutant live");
    let mut survivors = Vec::new();
    for (name, property) in selected {
        let run = suite(root, Some(name), (!full).then_some(property))?;
        let caught = !run.passed && run.failed.contains(property);
        let others: Vec<&String> = run.failed.iter().filter(|test| *test != property).collect();
        if caught {
            if full {
                println!("{name}: caught by {property} (also failing: {others:?})");
            } else {
                println!("{name}: caught by {property}");
            }
        } else {
            eprintln!("{}", tail(&run.output, 60));
            eprintln!(
                "{name}: NOT caught by {property} (suite passed: {}, failing: {:?})",
                run.passed, run.failed
            );
            survivors.push(name);
        }
    }
    if survivors.is_empty() {
        println!("every mutant was caught by its property");
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!("surviving mutants: {survivors:?}");
        Ok(ExitCode::FAILURE)
    }
}

/// The names in this table must be exactly the mock's: a misspelt one would make every
/// test panic, which must not pass for a caught mutant.
fn check_names(root: &Path) -> anyhow::Result<()> {
    let path = root.join("mock-server/src/mutants.rs");
    let source =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let known: BTreeSet<&str> = source
        .lines()
        .filter_map(|line| line.trim().strip_prefix("Mutant::"))
        .filter_map(|rest| rest.split_once(" => \""))
        .filter_map(|(_, name)| name.strip_suffix("\","))
        .collect();
    let listed: BTreeSet<&str> = EXPECTED.iter().map(|(name, _)| *name).collect();
    if known != listed {
        bail!("xtask's mutant table {listed:?} differs from mock-server/src/mutants.rs {known:?}");
    }
    Ok(())
}

/// Runs the conformance suite with the mutants feature, `mutant` live; with `property`
/// (`file::test`), only that test.
fn suite(root: &Path, mutant: Option<&str>, property: Option<&str>) -> anyhow::Result<Run> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let (reader, writer) = std::io::pipe().context("creating a pipe")?;
    let mut command = Command::new(cargo);
    command
        .current_dir(root)
        .args([
            "test",
            "-p",
            "tiktok-conformance",
            "--features",
            "mutants",
            "--no-fail-fast",
        ])
        .env_remove("TIKTOK_MOCK_MUTANT")
        .stdin(Stdio::null())
        .stdout(writer.try_clone().context("cloning a pipe")?)
        .stderr(writer);
    if let Some(mutant) = mutant {
        command.env("TIKTOK_MOCK_MUTANT", mutant);
    }
    if let Some(property) = property {
        let Some((file, test)) = property.split_once("::") else {
            bail!("{property}: expected file::test");
        };
        command.args(["--test", file, "--", test, "--exact"]);
    }
    let mut child = command.spawn().context("starting cargo test")?;
    // Drop our copies of the write end (held by `command`) so the read ends at exit.
    drop(command);
    let mut output = String::new();
    let mut failed = BTreeSet::new();
    let mut binary = String::from("?");
    for line in BufReader::new(reader).lines() {
        let line = line.context("reading cargo's output")?;
        let trimmed = line.trim();
        if let Some(rest) = trimmed.strip_prefix("Running ") {
            // `Running tests/paging.rs (…)`, `Running tests/state_machine/main.rs (…)` (a
            // folder test, named by its folder) or `Running unittests src/lib.rs (…)`.
            let target = rest.split_whitespace().next().unwrap_or("?");
            binary = if target == "unittests" {
                "lib".to_owned()
            } else {
                test_target_name(Path::new(target)).unwrap_or_else(|| target.to_owned())
            };
        } else if let Some(test) = trimmed
            .strip_prefix("test ")
            .and_then(|rest| rest.strip_suffix(" ... FAILED"))
        {
            failed.insert(format!("{binary}::{test}"));
        }
        output.push_str(&line);
        output.push('\n');
    }
    let status = child.wait().context("waiting for cargo test")?;
    if output.contains("no such mutant") {
        bail!("the mock does not know the mutant {mutant:?}");
    }
    Ok(Run {
        passed: status.success(),
        failed,
        output,
    })
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// The name of the test target a file under `tests/` builds: the file's stem, or the
/// folder's name for a folder test (`tests/NAME/main.rs`).
fn test_target_name(path: &Path) -> Option<String> {
    let stem = path.file_stem()?.to_string_lossy().into_owned();
    if stem != "main" {
        return Some(stem);
    }
    let folder = path.parent()?.file_name()?.to_string_lossy().into_owned();
    Some(if folder == "tests" { stem } else { folder })
}

#[cfg(test)]
mod tests {
    use super::test_target_name;
    use std::path::Path;

    #[test]
    fn test_targets_are_named_as_cargo_names_them() {
        assert_eq!(
            test_target_name(Path::new("tests/paging.rs")).as_deref(),
            Some("paging")
        );
        assert_eq!(
            test_target_name(Path::new("tests/state_machine/main.rs")).as_deref(),
            Some("state_machine")
        );
        assert_eq!(
            test_target_name(Path::new("tests/main.rs")).as_deref(),
            Some("main")
        );
    }
}
