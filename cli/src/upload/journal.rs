//! The journal file: JSON lines, appended in groups and synced to disk before the next request
//! whenever a group holds a record the core marks as such (`Record::must_sync`), readable only by
//! the user (it holds upload tokens and session URLs, which are secrets).

use std::fmt::Write as _;
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use gphotos_upload::Endpoint;
use gphotos_upload::job::Record;
use sha2::{Digest, Sha256};

use crate::failure::Failure;
use crate::places::journal_dir;

/// An open journal, locked against a second process running the same command at once (the lock
/// dies with the process, so a killed run never blocks its rerun).
#[derive(Debug)]
pub struct Journal {
    path: PathBuf,
    file: Locked,
}

#[cfg(unix)]
type Locked = nix::fcntl::Flock<File>;
#[cfg(not(unix))]
type Locked = File;

#[cfg(unix)]
fn lock(file: File) -> io::Result<Locked> {
    use nix::fcntl::{Flock, FlockArg};
    Flock::lock(file, FlockArg::LockExclusiveNonblock).map_err(|(_, errno)| {
        if errno == nix::errno::Errno::EWOULDBLOCK {
            io::Error::new(
                io::ErrorKind::WouldBlock,
                "another gphotos-upload is running with this journal; wait for it to finish \
                 (or give this run its own --journal)",
            )
        } else {
            io::Error::from(errno)
        }
    })
}

#[cfg(not(unix))]
fn lock(file: File) -> io::Result<Locked> {
    Ok(file)
}

impl Journal {
    /// Opens (creating it, mode 0600, with its directory) the journal at `path` and reads the
    /// records of earlier runs.
    ///
    /// # Errors
    /// A runtime failure when it cannot be opened or read, or is damaged.
    pub fn open(path: &Path) -> Result<(Self, Vec<Record>), Failure> {
        let fail = |what: &str, error: &dyn std::fmt::Display| {
            Failure::failed(format!("journal {}: {what}: {error}", path.display()))
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            create_private_dir(dir).map_err(|e| fail("cannot create its directory", &e))?;
        }
        let mut options = OpenOptions::new();
        options.read(true).append(true).create(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let file = options.open(path).map_err(|e| fail("cannot open it", &e))?;
        let mut file = lock(file).map_err(|e| fail("cannot lock it", &e))?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)
            .map_err(|e| fail("cannot read it", &e))?;
        let records = Record::parse_journal(&bytes).map_err(|e| fail("damaged", &e))?;
        // A torn last line (the process died while writing it; its step never happened) is cut
        // off, so that the next record does not glue itself to it.
        if !bytes.is_empty() && !bytes.ends_with(b"\n") {
            let keep = bytes
                .iter()
                .rposition(|b| *b == b'\n')
                .map_or(0, |at| at + 1);
            file.set_len(keep as u64)
                .and_then(|()| file.sync_data())
                .map_err(|e| fail("cannot repair its torn last line", &e))?;
        }
        Ok((
            Self {
                path: path.to_path_buf(),
                file,
            },
            records,
        ))
    }

    /// Appends `records` in one write; when one of them must be durable before the next request
    /// (`Record::must_sync`), waits until all are on disk: one sync for all of them (group commit),
    /// since a sync can take milliseconds and parallel uploads produce records together.
    ///
    /// # Errors
    /// The write or the sync failed.
    pub fn append_all(&mut self, records: &[Record]) -> io::Result<()> {
        let lines: Vec<u8> = records.iter().flat_map(Record::to_line).collect();
        self.file.write_all(&lines)?;
        if records.iter().any(Record::must_sync) {
            self.file.sync_data()?;
        }
        Ok(())
    }

    /// Where it is.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for Journal {
    // Records that needed no sync of their own reach the disk when the run ends (best effort: a
    // killed process loses nothing it wrote anyway, only a power cut could).
    fn drop(&mut self) {
        let _ = self.file.sync_data();
    }
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

fn create_private_dir(dir: &Path) -> io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_survive_a_reopen_and_a_torn_tail() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j/journal.jsonl");
        let record = Record::AlbumCreated {
            title: "t".into(),
            album_id: "a1".into(),
        };
        {
            let (mut journal, old) = Journal::open(&path).unwrap();
            assert!(old.is_empty());
            journal.append_all(std::slice::from_ref(&record)).unwrap();
        }
        // A crash in the middle of the next line.
        let mut file = OpenOptions::new().append(true).open(&path).unwrap();
        file.write_all(b"{\"record\":\"crea").unwrap();
        drop(file);
        let (mut journal, old) = Journal::open(&path).unwrap();
        assert_eq!(old, vec![record.clone()]);
        // Two records in one write and one sync.
        journal
            .append_all(&[record.clone(), record.clone()])
            .unwrap();
        drop(journal);
        let (_, old) = Journal::open(&path).unwrap();
        assert_eq!(old, vec![record.clone(), record.clone(), record]);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[cfg(unix)]
    #[test]
    fn a_journal_in_use_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal.jsonl");
        let (held, _) = Journal::open(&path).unwrap();
        let second = Journal::open(&path).unwrap_err().to_string();
        assert!(
            second.contains("another gphotos-upload is running"),
            "{second}"
        );
        drop(held);
        assert!(
            Journal::open(&path).is_ok(),
            "free again once the holder is gone"
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
