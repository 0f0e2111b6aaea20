//! The upload's journal: where it lives by default, and what the user is told when it cannot be
//! opened. The file itself (locking, torn tails, group commit, mode 0600) is the ureq adapter's
//! [`Journal`].

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use gphotos_upload::Endpoint;
use gphotos_upload_ureq::{Journal, JournalOpenError};
use sha2::{Digest, Sha256};

use crate::failure::Failure;
use crate::places::journal_dir;

/// Opens the journal at `path` (see [`Journal::open`]).
///
/// # Errors
/// A runtime failure when it is in use by another run, damaged, or cannot be opened.
pub fn open(path: &Path) -> Result<Journal, Failure> {
    Journal::open(path).map_err(|error| match error {
        JournalOpenError::InUse { path } => Failure::failed(format!(
            "journal {}: another gphotos-upload is running with this journal; wait for it to \
             finish (or give this run its own --journal)",
            path.display()
        )),
        other => Failure::failed(other.to_string()),
    })
}

/// The default journal of an upload: named by a hash of the endpoint, the inputs (canonical, in
/// sorted order) and the album, so the same command finds the same journal and another command
/// gets its own.
///
/// # Errors
/// A usage failure when the user has no state directory.
pub fn default_path(
    endpoint: &Endpoint,
    inputs: &[PathBuf],
    album: &str,
) -> Result<PathBuf, Failure> {
    let mut canonical: Vec<String> = inputs
        .iter()
        .map(|p| {
            std::fs::canonicalize(p)
                .unwrap_or_else(|_| p.clone())
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    canonical.sort();
    canonical.dedup();
    let mut hash = Sha256::new();
    hash.update(endpoint.to_string().as_bytes());
    for path in &canonical {
        hash.update([0]);
        hash.update(path.as_bytes());
    }
    hash.update([1]);
    hash.update(album.as_bytes());
    let digest = hash.finalize();
    let name = digest[..8].iter().fold(String::new(), |mut name, b| {
        let _ = write!(name, "{b:02x}");
        name
    });
    Ok(journal_dir()?.join(format!("{name}.jsonl")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn a_journal_in_use_names_the_way_out() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal.jsonl");
        let _held = open(&path).unwrap();
        let second = open(&path).unwrap_err();
        assert!(matches!(second, Failure::Failed(_)), "{second:?}");
        let message = second.to_string();
        assert!(
            message.contains("another gphotos-upload is running") && message.contains("--journal"),
            "{message}"
        );
    }

    #[test]
    fn default_paths_differ_by_endpoint_inputs_and_album() {
        let google = Endpoint::google();
        let local = Endpoint::parse("http://127.0.0.1:9/v1/").unwrap();
        let a = vec![PathBuf::from("/nonexistent/a")];
        let b = vec![PathBuf::from("/nonexistent/b")];
        let p = |e: &Endpoint, i: &[PathBuf], album: &str| default_path(e, i, album).unwrap();
        assert_eq!(p(&google, &a, ""), p(&google, &a, ""));
        assert_ne!(p(&google, &a, ""), p(&local, &a, ""));
        assert_ne!(p(&google, &a, ""), p(&google, &b, ""));
        assert_ne!(p(&google, &a, ""), p(&google, &a, "title:x"));
    }
}
