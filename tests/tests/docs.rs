//! The documents name paths that exist: every repository path in
//! backquotes in `ARCHITECTURE.md` and `README.md` (one that starts with a
//! top-level directory of the workspace) is a file or directory of the
//! tree, so that a move or a rename cannot leave the docs pointing nowhere.

use std::path::Path;

/// The top-level directories a path in the docs may start with.
const ROOTS: &[&str] = &[
    "bench/",
    "drivers/",
    "fixtures/",
    "harness/",
    "models/",
    "protocol/",
    "ring/",
    "shmring-cli/",
    "specs/",
    "testkit/",
    "tests/",
    ".ci/",
    ".config/",
];

/// The backquoted spans of `text` that look like workspace paths.
fn paths(text: &str) -> Vec<String> {
    text.split('`')
        .skip(1)
        .step_by(2)
        .filter(|s| ROOTS.iter().any(|r| s.starts_with(r)))
        .filter(|s| !s.contains([' ', '*', '<', '{', '$']))
        .map(|s| s.trim_end_matches([',', '.', ':']).to_owned())
        .collect()
}

#[test]
fn every_path_named_in_the_architecture_and_the_readme_exists() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut missing = Vec::new();
    let mut checked = 0;
    for doc in ["ARCHITECTURE.md", "README.md"] {
        let text = std::fs::read_to_string(root.join(doc)).expect("the document");
        for p in paths(&text) {
            checked += 1;
            if !root.join(&p).exists() {
                missing.push(format!("{doc}: {p}"));
            }
        }
    }
    assert!(
        checked > 20,
        "only {checked} paths found: the extraction broke"
    );
    assert!(
        missing.is_empty(),
        "paths that do not exist:\n{}",
        missing.join("\n")
    );
}

#[test]
fn the_extraction_finds_paths_and_skips_commands() {
    let text = "see `ring/src/lib.rs`, `cargo run -p x`, `tests/tests/*.rs` and `harness/`.";
    assert_eq!(paths(text), vec!["ring/src/lib.rs", "harness/"]);
}
