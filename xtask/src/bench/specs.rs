//! Synthetic specs for the generator's measurement: the real spec with every endpoint of
//! `endpoints.yaml` copied `factor - 1` more times under new ids and paths, so the spec
//! has `factor` times the endpoints and everything else as it is.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

/// The number of endpoints of a spec directory (the top-level keys of `endpoints.yaml`).
pub fn endpoint_count(spec: &Path) -> anyhow::Result<usize> {
    let text = std::fs::read_to_string(spec.join("endpoints.yaml"))
        .with_context(|| format!("reading {}/endpoints.yaml", spec.display()))?;
    Ok(blocks(&text).1.len())
}

/// Writes `out` as a copy of `spec` with `factor` times the endpoints; returns `out`.
pub fn multiply(spec: &Path, factor: usize, out: &Path) -> anyhow::Result<PathBuf> {
    if out.exists() {
        std::fs::remove_dir_all(out).with_context(|| format!("removing {}", out.display()))?;
    }
    std::fs::create_dir_all(out)?;
    for entry in std::fs::read_dir(spec)? {
        let entry = entry?;
        if entry.file_type()?.is_file() {
            std::fs::copy(entry.path(), out.join(entry.file_name()))?;
        }
    }
    let text = std::fs::read_to_string(spec.join("endpoints.yaml"))?;
    let (head, endpoints) = blocks(&text);
    if endpoints.is_empty() {
        bail!("{}/endpoints.yaml: no endpoint found", spec.display());
    }
    let mut result = head;
    for copy in 0..factor.max(1) {
        for block in &endpoints {
            result.push_str(&rename(block, copy)?);
        }
    }
    std::fs::write(out.join("endpoints.yaml"), result)?;
    Ok(out.to_path_buf())
}

/// The text before the first endpoint, and each endpoint's block (its `id:` line and the
/// indented lines under it).
fn blocks(text: &str) -> (String, Vec<String>) {
    let mut head = String::new();
    let mut endpoints: Vec<String> = Vec::new();
    for line in text.split_inclusive('\n') {
        let starts_block = line
            .chars()
            .next()
            .is_some_and(|first| first.is_ascii_alphabetic())
            && line.trim_end().ends_with(':');
        if starts_block {
            endpoints.push(line.to_owned());
        } else if let Some(block) = endpoints.last_mut() {
            block.push_str(line);
        } else {
            head.push_str(line);
        }
    }
    (head, endpoints)
}

/// Copy `copy` of an endpoint: copy 0 is the original; others get the id `ID_cN` and the
/// path `/v2/cN/…`.
fn rename(block: &str, copy: usize) -> anyhow::Result<String> {
    if copy == 0 {
        return Ok(block.to_owned());
    }
    let mut out = String::new();
    let mut renamed_path = false;
    for (index, line) in block.split_inclusive('\n').enumerate() {
        if index == 0 {
            let id = line.trim_end().trim_end_matches(':');
            out.push_str(&format!("{id}_c{copy}:\n"));
        } else if let Some(rest) = line.strip_prefix("  path: /v2/") {
            out.push_str(&format!("  path: /v2/c{copy}/{rest}"));
            renamed_path = true;
        } else {
            out.push_str(line);
        }
    }
    if !renamed_path {
        bail!("an endpoint without a `  path: /v2/…` line:\n{block}");
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_are_copied_under_new_ids_and_paths() {
        let text = "# head\na:\n  path: /v2/a/\n  method: GET\nb:\n  path: /v2/b/\n";
        let (head, endpoints) = blocks(text);
        assert_eq!(head, "# head\n");
        assert_eq!(endpoints.len(), 2);
        assert_eq!(
            rename(&endpoints[0], 3).expect("renames"),
            "a_c3:\n  path: /v2/c3/a/\n  method: GET\n"
        );
    }
}
