//! Paths as the repository names them: a file under the repository root is written relative
//! to it (`scenarios/partition.yaml`), whatever directory the command ran from, so a printed
//! command line reproduces the run when pasted at the root. A file outside stays absolute.

use std::path::{Path, PathBuf};

/// The repository root: the workspace this crate was built in.
pub fn root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let root = manifest.parent().unwrap_or(manifest);
    root.canonicalize().unwrap_or_else(|_| root.to_path_buf())
}

/// `path` (relative to the working directory, or absolute) as written from the repository
/// root: relative under it, absolute elsewhere; as given if it cannot be resolved.
pub fn from_root(path: &Path) -> String {
    let Ok(full) = path.canonicalize() else {
        return path.display().to_string();
    };
    match full.strip_prefix(root()) {
        Ok(relative) => relative.display().to_string(),
        Err(_) => full.display().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_under_the_root_is_named_from_it_whatever_the_working_directory_says() {
        let by_root = root().join("scenarios").join("partition.yaml");
        assert_eq!(from_root(&by_root), "scenarios/partition.yaml");
        let detour = root()
            .join("sim")
            .join("..")
            .join("scenarios/partition.yaml");
        assert_eq!(from_root(&detour), "scenarios/partition.yaml");
    }

    #[test]
    fn a_file_outside_the_root_stays_absolute_and_a_missing_one_as_given() {
        let outside = std::env::temp_dir();
        let named = from_root(&outside);
        assert!(Path::new(&named).is_absolute(), "{named}");
        assert_eq!(
            from_root(Path::new("no/such/file.yaml")),
            "no/such/file.yaml"
        );
    }
}
