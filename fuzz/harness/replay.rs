//! Replays a checked-in fuzz corpus (`fuzz/corpus/<target>/`) through a harness function, for
//! the `fuzz_corpus` tests of the library and the collector (included there with `#[path]`).
//! A missing or empty corpus folder fails, so the test never passes vacuously; a crashing input
//! is named in the failure.

use std::path::{Path, PathBuf};

/// Runs every file of `fuzz/corpus/{target}/` through `run`; `manifest_dir` is the calling
/// crate's `CARGO_MANIFEST_DIR` (two levels below the repository root).
pub(crate) fn replay(manifest_dir: &str, target: &str, run: fn(&[u8])) {
    let dir = Path::new(manifest_dir)
        .join("../../fuzz/corpus")
        .join(target);
    let entries = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("corpus folder {} is missing: {e}", dir.display()));
    let mut files: Vec<PathBuf> = entries
        .map(|entry| entry.expect("a readable corpus folder").path())
        .filter(|path| path.is_file())
        .collect();
    files.sort();
    assert!(
        !files.is_empty(),
        "corpus folder {} is empty",
        dir.display()
    );
    for file in &files {
        let data =
            std::fs::read(file).unwrap_or_else(|e| panic!("cannot read {}: {e}", file.display()));
        if std::panic::catch_unwind(|| run(&data)).is_err() {
            panic!(
                "fuzz target {target}: input {} crashed (the panic is printed above)",
                file.display()
            );
        }
    }
    eprintln!(
        "fuzz target {target}: {} corpus inputs replayed",
        files.len()
    );
}
