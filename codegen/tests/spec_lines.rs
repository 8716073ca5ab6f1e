//! The spec lines the model carries (and `SPEC_LINES` is emitted from) point at the key
//! they name in the real spec: an endpoint, one of its keys, a schema, a field, an error code.

use std::path::Path;

#[test]
fn every_spec_line_points_at_the_key_it_names() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let model = tiktok_codegen::load(&root.join("spec")).unwrap_or_else(|error| panic!("{error}"));
    assert!(model.lines.contains_key("endpoint:user_info"));
    assert!(model.lines.contains_key("schema:User.display_name"));
    assert!(model.lines.contains_key("error:rate_limit_exceeded"));
    for (key, spec_line) in &model.lines {
        let text = std::fs::read_to_string(root.join(&spec_line.file)).expect("a spec file");
        let line = text
            .lines()
            .nth(spec_line.line - 1)
            .unwrap_or_else(|| panic!("{key}: no line {}", spec_line.line));
        let (kind, name) = key.split_once(':').expect("a kind");
        let last = name.rsplit('.').next().expect("a name");
        let points = match kind {
            "error" => line.contains(&format!("code: {last}")),
            _ => line.trim_start().starts_with(&format!("{last}:")),
        };
        assert!(
            points,
            "{key} -> {}:{}: {line:?}",
            spec_line.file, spec_line.line
        );
    }
}
