//! Hostile input to the spec loader: any bytes in place of one spec file, or one span of a
//! real file replaced by arbitrary characters, gives the model or errors that name the file,
//! and never a panic. Failing cases found are kept in `hostile.proptest-regressions`.

use std::collections::BTreeMap;
use std::path::Path;

use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;

fn real_spec() -> BTreeMap<&'static str, String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../spec");
    tiktok_codegen::spec::FILES
        .iter()
        .map(|file| {
            let text = std::fs::read_to_string(dir.join(file)).expect("a spec file");
            (*file, text)
        })
        .collect()
}

/// Arbitrary bytes, or the file with one span replaced.
fn hostile(original: String) -> impl Strategy<Value = String> {
    let len = original.chars().count();
    prop_oneof![
        any::<Vec<u8>>().prop_map(|bytes| String::from_utf8_lossy(&bytes).into_owned()),
        (0..len.max(1), 0..200usize, any::<String>()).prop_map(move |(at, cut, insert)| {
            let mut text: Vec<char> = original.chars().collect();
            let at = at.min(text.len());
            let end = (at + cut).min(text.len());
            text.splice(at..end, insert.chars());
            text.into_iter().collect()
        }),
    ]
}

fn case() -> impl Strategy<Value = (&'static str, String)> {
    prop::sample::select(&tiktok_codegen::spec::FILES[..]).prop_flat_map(|file| {
        let original = real_spec()[file].clone();
        (Just(file), hostile(original))
    })
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 128,
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource("proptest-regressions"))),
        ..ProptestConfig::default()
    })]

    #[test]
    fn any_bytes_in_a_spec_file_give_errors_naming_files_never_a_panic(
        (file, text) in case()
    ) {
        let mut texts = real_spec();
        texts.insert(file, text);
        if let Err(error) = tiktok_codegen::load_texts(&texts) {
            let message = error.to_string();
            prop_assert!(message.contains("spec/"), "{}", message);
            prop_assert!(message.ends_with("in the spec"), "{}", message);
        }
    }
}
