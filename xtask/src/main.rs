//! Project tasks. `cargo xtask gen` regenerates `generated/` from `spec/`.
fn main() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf();
    match tiktok_codegen::load(&root.join("spec")) {
        Ok(model) => println!("ok: {} endpoints", model.endpoints.len()),
        Err(error) => {
            eprintln!("{error}");
            std::process::exit(1)
        }
    }
}
