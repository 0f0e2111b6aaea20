//! Where uploaded bytes go: files in a temporary directory, or nowhere (sink mode). Either way every
//! byte is hashed on the way in, and a write can be rolled back to a checkpoint so that only whole
//! granularity units survive an interrupted chunk.

use std::fs::File;
use std::io::{self, Seek, SeekFrom, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};

use sha2::{Digest, Sha256};
use tempfile::TempDir;

use crate::config::Storage;
use crate::random::hex;

/// The store of one emulator.
#[derive(Debug)]
pub(crate) struct Store {
    /// `None` in sink mode, and after [`Store::close`].
    dir: Mutex<Option<TempDir>>,
    sink: bool,
    next: AtomicU64,
}

impl Store {
    pub(crate) fn new(storage: Storage) -> io::Result<Self> {
        let (dir, sink) = match storage {
            Storage::TempDir => (
                Some(
                    tempfile::Builder::new()
                        .prefix("gphotos-emulator-")
                        .tempdir()?,
                ),
                false,
            ),
            Storage::Sink => (None, true),
        };
        Ok(Self {
            dir: Mutex::new(dir),
            sink,
            next: AtomicU64::new(0),
        })
    }

    /// A fresh, empty object being written.
    pub(crate) fn open(&self) -> io::Result<ObjectWriter> {
        let file = if self.sink {
            None
        } else {
            let guard = self.dir.lock().unwrap_or_else(PoisonError::into_inner);
            let dir = guard
                .as_ref()
                .ok_or_else(|| io::Error::other("the emulator is stopping"))?;
            let path = dir.path().join(format!(
                "object-{}.bin",
                self.next.fetch_add(1, Ordering::Relaxed)
            ));
            Some((File::create(&path)?, path))
        };
        Ok(ObjectWriter {
            file,
            hasher: Sha256::new(),
            len: 0,
        })
    }

    /// Deletes the directory and everything in it.
    pub(crate) fn close(&self) {
        let dir = self
            .dir
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(dir) = dir {
            // Removal failing (a file still open elsewhere on some systems) must not stop shutdown.
            let _ = dir.close();
        }
    }
}

/// An object being written: bytes so far, their running hash, the file if stored.
#[derive(Debug)]
pub(crate) struct ObjectWriter {
    file: Option<(File, PathBuf)>,
    hasher: Sha256,
    len: u64,
}

/// A point an [`ObjectWriter`] can return to.
#[derive(Debug, Clone)]
pub(crate) struct Checkpoint {
    hasher: Sha256,
    len: u64,
}

/// A finished object.
#[derive(Debug, Clone)]
pub(crate) struct Finished {
    pub(crate) sha256: String,
    pub(crate) size: u64,
    pub(crate) path: Option<PathBuf>,
}

impl ObjectWriter {
    pub(crate) fn len(&self) -> u64 {
        self.len
    }

    pub(crate) fn append(&mut self, data: &[u8]) -> io::Result<()> {
        if let Some((file, _)) = &mut self.file {
            file.write_all(data)?;
        }
        self.hasher.update(data);
        self.len += data.len() as u64;
        Ok(())
    }

    pub(crate) fn checkpoint(&self) -> Checkpoint {
        Checkpoint {
            hasher: self.hasher.clone(),
            len: self.len,
        }
    }

    pub(crate) fn rollback(&mut self, to: Checkpoint) -> io::Result<()> {
        if let Some((file, _)) = &mut self.file {
            file.set_len(to.len)?;
            file.seek(SeekFrom::Start(to.len))?;
        }
        self.hasher = to.hasher;
        self.len = to.len;
        Ok(())
    }

    pub(crate) fn finish(self) -> io::Result<Finished> {
        let path = match self.file {
            Some((mut file, path)) => {
                file.flush()?;
                Some(path)
            }
            None => None,
        };
        Ok(Finished {
            sha256: hex(&self.hasher.finalize()),
            size: self.len,
            path,
        })
    }

    /// Drops the object and its file (a cancelled or abandoned upload).
    pub(crate) fn discard(self) {
        if let Some((file, path)) = self.file {
            drop(file);
            // Best effort: the whole directory goes at stop anyway.
            let _ = std::fs::remove_file(path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rollback_restores_bytes_and_hash() {
        for storage in [Storage::TempDir, Storage::Sink] {
            let store = Store::new(storage).unwrap();
            let mut writer = store.open().unwrap();
            writer.append(b"hello ").unwrap();
            let checkpoint = writer.checkpoint();
            writer.append(b"garbage").unwrap();
            writer.rollback(checkpoint).unwrap();
            writer.append(b"world").unwrap();
            let done = writer.finish().unwrap();
            assert_eq!(done.size, 11);
            assert_eq!(done.sha256, hex(&Sha256::digest(b"hello world")));
            if let Some(path) = &done.path {
                assert_eq!(std::fs::read(path).unwrap(), b"hello world");
            }
            store.close();
            if let Some(path) = done.path {
                assert!(!path.exists());
            }
        }
    }
}
