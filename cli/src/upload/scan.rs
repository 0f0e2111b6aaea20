//! From the paths on the command line to the files to upload: directories are walked
//! recursively (in name order, symlinked directories not followed, so a loop cannot trap the
//! walk); photos and videos are chosen by extension; everything else is listed as skipped.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use gphotos_upload::job::FileKey;
use gphotos_upload_ureq::mime;

/// One file found among the inputs.
#[derive(Debug, Clone)]
pub enum Found {
    /// A photo or video to upload.
    Media(MediaInput),
    /// Not uploaded, with the reason.
    Skipped {
        /// The path as the user would write it.
        shown: String,
        /// Why.
        reason: String,
    },
    /// An input that cannot be read at all (missing, unreadable): it counts as failed.
    Unreadable {
        /// The path as the user would write it.
        shown: String,
        /// Why.
        reason: String,
    },
}

/// A media file, described for the job.
#[derive(Debug, Clone)]
pub struct MediaInput {
    /// The path as given or as found under a given directory.
    pub shown: String,
    /// The file's identity in the journal: its canonical path, size and modification time.
    pub key: FileKey,
    /// From the extension.
    pub mime_type: &'static str,
    /// The last path component.
    pub file_name: Option<String>,
}

/// Walks `inputs`; a file reached twice (named twice, or inside a named directory too) is listed
/// once.
pub fn scan(inputs: &[PathBuf]) -> Vec<Found> {
    let mut found = Vec::new();
    let mut seen = HashSet::new();
    for input in inputs {
        visit(input, true, &mut seen, &mut found);
    }
    found
}

fn visit(path: &Path, named: bool, seen: &mut HashSet<PathBuf>, found: &mut Vec<Found>) {
    let shown = path.display().to_string();
    // A named symlink is followed (the user pointed at it); inside directories, symlinked
    // directories are not, but symlinked files are.
    let metadata = match std::fs::metadata(path) {
        Ok(metadata) => metadata,
        Err(error) => {
            found.push(Found::Unreadable {
                shown,
                reason: format!("cannot read it: {error}"),
            });
            return;
        }
    };
    if metadata.is_dir() {
        if !named && std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink()) {
            found.push(Found::Skipped {
                shown,
                reason: "a symbolic link to a directory (not followed)".into(),
            });
            return;
        }
        let entries = match std::fs::read_dir(path) {
            Ok(entries) => entries,
            Err(error) => {
                found.push(Found::Unreadable {
                    shown,
                    reason: format!("cannot list the directory: {error}"),
                });
                return;
            }
        };
        let mut children: Vec<PathBuf> = entries.filter_map(Result::ok).map(|e| e.path()).collect();
        children.sort();
        for child in children {
            visit(&child, false, seen, found);
        }
        return;
    }
    if !metadata.is_file() {
        found.push(Found::Skipped {
            shown,
            reason: "not a regular file".into(),
        });
        return;
    }
    let canonical = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    if !seen.insert(canonical.clone()) {
        return;
    }
    // The journal and the workers name files by their path as text.
    let Some(canonical_text) = canonical.to_str() else {
        found.push(Found::Unreadable {
            shown,
            reason: "its path is not valid UTF-8; rename it (or a parent directory)".into(),
        });
        return;
    };
    let Some(mime_type) = mime::for_path(path) else {
        let extension = path.extension().map_or_else(
            || "no extension".to_owned(),
            |e| format!(".{}", e.to_string_lossy()),
        );
        found.push(Found::Skipped {
            shown,
            reason: format!("not a photo or video type ({extension})"),
        });
        return;
    };
    let modified = metadata
        .modified()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
    found.push(Found::Media(MediaInput {
        shown,
        key: FileKey {
            path: canonical_text.to_owned(),
            size: metadata.len(),
            modified,
        },
        mime_type,
        file_name: path
            .file_name()
            .map(|name| name.to_string_lossy().into_owned()),
    }));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn walks_directories_skips_other_files_and_dedupes() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("a/b")).unwrap();
        std::fs::write(root.join("a/one.JPG"), b"x").unwrap();
        std::fs::write(root.join("a/b/two.mp4"), b"xy").unwrap();
        std::fs::write(root.join("a/notes.txt"), b"t").unwrap();
        let found = scan(&[
            root.join("a"),
            root.join("a/one.JPG"),
            root.join("missing.png"),
        ]);
        let media: Vec<_> = found
            .iter()
            .filter_map(|f| match f {
                Found::Media(m) => Some((m.file_name.clone().unwrap(), m.mime_type, m.key.size)),
                _ => None,
            })
            .collect();
        assert_eq!(
            media,
            vec![
                ("two.mp4".to_owned(), "video/mp4", 2),
                ("one.JPG".to_owned(), "image/jpeg", 1)
            ]
        );
        assert!(found.iter().any(
            |f| matches!(f, Found::Skipped { shown, reason } if shown.ends_with("notes.txt") && reason.contains(".txt"))
        ));
        assert!(found.iter().any(
            |f| matches!(f, Found::Unreadable { shown, .. } if shown.ends_with("missing.png"))
        ));
        assert_eq!(found.len(), 4, "one.JPG is listed once");
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_path_that_is_not_utf8_is_reported_not_mangled() {
        use std::os::unix::ffi::OsStrExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(std::ffi::OsStr::from_bytes(b"caf\xe9.jpg"));
        std::fs::write(&path, b"x").unwrap();
        let found = scan(&[dir.path().to_path_buf()]);
        assert!(
            matches!(&found[..], [Found::Unreadable { reason, .. }] if reason.contains("UTF-8")),
            "{found:?}"
        );
    }
}
