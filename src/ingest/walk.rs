//! The files an analysis reads: paths as given, and directories walked. A directory is read as an
//! S3 export copied to disk (`aws s3 cp --recursive` / `aws s3 sync` of
//! `<prefix>/<task id>/<stream>/000000.gz`): every regular file below it, recursively, in name
//! order. Symbolic links and special files inside it are skipped, and so is `aws-logs-write-test`,
//! the object CloudWatch Logs writes at the prefix to check that it may write to the bucket
//! ("Permission Check Successful"; moto's `create_export_task` writes it too).

use std::io;
use std::path::{Path, PathBuf};

/// The object an export task leaves beside its data: not logs.
pub const EXPORT_WRITE_TEST: &str = "aws-logs-write-test";

/// Why a directory could not be walked.
#[derive(Debug, thiserror::Error)]
pub enum WalkError {
    /// Listing a directory (or reading an entry's type) failed.
    #[error("{path}: {source}")]
    List {
        /// The directory.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// The directory holds no files at all.
    #[error("{0}: no files in this directory")]
    Empty(PathBuf),
}

/// `paths` with every directory replaced by the files below it; other paths (`-`, files, paths
/// that do not exist) stay as given, to be opened (and fail) in their turn.
pub fn expand(paths: &[PathBuf]) -> Result<Vec<PathBuf>, WalkError> {
    let mut out = Vec::new();
    for path in paths {
        if path.as_os_str() != "-" && path.is_dir() {
            let before = out.len();
            walk(path, &mut out)?;
            if out.len() == before {
                return Err(WalkError::Empty(path.clone()));
            }
        } else {
            out.push(path.clone());
        }
    }
    Ok(out)
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), WalkError> {
    let list = |source| WalkError::List { path: dir.to_path_buf(), source };
    let mut entries = std::fs::read_dir(dir)
        .map_err(list)?
        .map(|e| e.and_then(|e| Ok((e.file_name(), e.file_type()?))))
        .collect::<Result<Vec<_>, _>>()
        .map_err(list)?;
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    for (name, kind) in entries {
        let path = dir.join(&name);
        // `file_type` does not follow symbolic links: a link is neither a file nor a directory here.
        if kind.is_dir() {
            walk(&path, out)?;
        } else if kind.is_file() && name != EXPORT_WRITE_TEST {
            out.push(path);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn walks_an_export_in_name_order_regular_files_only() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        for f in ["b/s2/000000.gz", "b/s1/000001.gz", "b/s1/000000.gz", "a/s/000000.gz", "aws-logs-write-test"] {
            let p = root.join(f);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(&p, b"x").unwrap();
        }
        std::os::unix::fs::symlink(root.join("a/s/000000.gz"), root.join("a/s/link.gz")).unwrap();
        std::os::unix::fs::symlink(root.join("b"), root.join("c")).unwrap();
        let single = root.join("a/s/000000.gz");
        let got = expand(&[root.to_path_buf(), "-".into(), single.clone()]).unwrap();
        let names: Vec<_> =
            got.iter().map(|p| p.strip_prefix(root).unwrap_or(p).to_string_lossy().into_owned()).collect();
        assert_eq!(
            names,
            ["a/s/000000.gz", "b/s1/000000.gz", "b/s1/000001.gz", "b/s2/000000.gz", "-", "a/s/000000.gz"]
        );
        // Given explicitly, a link is followed: the user named it.
        assert_eq!(expand(&[root.join("a/s/link.gz")]).unwrap().len(), 1);
    }

    #[test]
    fn an_empty_directory_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("task")).unwrap();
        let err = expand(&[dir.path().to_path_buf()]).unwrap_err().to_string();
        assert!(err.ends_with(": no files in this directory"), "{err}");
        assert!(err.starts_with(&dir.path().display().to_string()), "{err}");
    }
}
