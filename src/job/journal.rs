//! The job's journal: append-only records from which a new process picks up a killed run.
//!
//! The adapter appends each record durably (append and fsync, or write-and-rename) in the order the
//! job emits them, before it performs the request the job returns next. Replaying the records into
//! [`super::Job::new`] skips created files, resumes live sessions by query, reuses tokens younger
//! than a day and re-sends `batchCreate` calls whose outcome the crash hid (safely: upload tokens
//! are single-use).

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::{Upload, UploadToken};

/// What identifies a file across runs: a file with another size or modification time is another
/// file, and is uploaded afresh.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct FileKey {
    /// The path, as the user gave it (or as found in a directory).
    pub path: String,
    /// Size in bytes.
    pub size: u64,
    /// Modification time in nanoseconds since the Unix epoch (0 when unknown).
    pub modified: u64,
}

/// One line of the journal.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "record", rename_all = "snake_case")]
pub enum Record {
    /// The album named `title` was created (so a rerun does not create a second one).
    AlbumCreated {
        /// The title asked for.
        title: String,
        /// The new album's id.
        album_id: String,
    },
    /// The resumable upload of `file` has this session (written when the upload opens a session;
    /// not after each chunk, since a restored upload asks the server how much it holds).
    Session {
        /// The file.
        file: FileKey,
        /// The upload machine, serialized.
        upload: Box<Upload>,
    },
    /// `file` is uploaded; its token waits for `batchCreate`.
    Uploaded {
        /// The file.
        file: FileKey,
        /// The upload token (a secret, single-use, valid for a day).
        token: UploadToken,
        /// When the token was issued, in seconds since the Unix epoch.
        issued_at: u64,
    },
    /// A `batchCreate` call with these files' tokens is about to be sent. Without a later outcome
    /// for a file, the call's fate is unknown to a restarted process, which re-sends the tokens.
    Creating {
        /// The files in the call.
        files: Vec<FileKey>,
    },
    /// `file` is a media item now.
    Created {
        /// The file.
        file: FileKey,
        /// The new media item's id.
        media_item_id: String,
    },
    /// `file` was most likely created by a call whose reply was lost, but its id is unknown; it is
    /// never uploaded again, so that no duplicate appears.
    Unconfirmed {
        /// The file.
        file: FileKey,
        /// Why the outcome is unconfirmed.
        reason: String,
    },
    /// The token of `file` was refused or ran out; a rerun uploads it again.
    TokenDropped {
        /// The file.
        file: FileKey,
    },
}

impl fmt::Debug for Record {
    // Upload tokens and session URLs are secrets: only the kind of record and the path are shown.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::AlbumCreated { title, .. } => write!(f, "AlbumCreated({title:?})"),
            Self::Session { file, upload } => {
                write!(
                    f,
                    "Session({:?}, {} bytes)",
                    file.path,
                    upload.progress().confirmed
                )
            }
            Self::Uploaded {
                file, issued_at, ..
            } => {
                write!(f, "Uploaded({:?}, issued_at {issued_at})", file.path)
            }
            Self::Creating { files } => write!(f, "Creating({} files)", files.len()),
            Self::Created {
                file,
                media_item_id,
            } => {
                write!(f, "Created({:?}, {media_item_id})", file.path)
            }
            Self::Unconfirmed { file, .. } => write!(f, "Unconfirmed({:?})", file.path),
            Self::TokenDropped { file } => write!(f, "TokenDropped({:?})", file.path),
        }
    }
}

impl Record {
    /// Whether the record must be on stable storage (written and synced) before the job's next
    /// request is performed.
    ///
    /// Only two records guard against a duplicate: `Creating` (without it, a rerun would send the
    /// tokens of a call whose outcome it cannot know as a fresh call, and on their refusal upload
    /// the files again) and `AlbumCreated` (without it, a rerun creates a second album). Losing any
    /// other record to a power cut costs at most a repeated upload or a resolution by re-send, never
    /// a duplicate, and a killed process loses nothing it wrote; so a journal may write them without
    /// waiting for the disk, and a later sync carries them along.
    pub fn must_sync(&self) -> bool {
        matches!(self, Self::Creating { .. } | Self::AlbumCreated { .. })
    }

    /// The record as one line of JSON (with its newline), as the adapter appends it.
    ///
    /// # Panics
    /// Never: every field serializes to JSON.
    pub fn to_line(&self) -> Vec<u8> {
        let mut line = serde_json::to_vec(self).expect("records serialize to JSON");
        line.push(b'\n');
        line
    }

    /// Reads a journal: one JSON record per line. A torn last line (the process died while writing
    /// it) is ignored, since the step it recorded had not happened yet.
    ///
    /// # Errors
    /// [`JournalError`] naming the first unreadable line that is not the last.
    pub fn parse_journal(text: &[u8]) -> Result<Vec<Record>, JournalError> {
        let lines: Vec<&[u8]> = text.split(|b| *b == b'\n').collect();
        let mut records = Vec::with_capacity(lines.len());
        for (index, line) in lines.iter().enumerate() {
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            match serde_json::from_slice::<Record>(line) {
                Ok(record) => records.push(record),
                Err(_) if index + 1 == lines.len() => break,
                Err(error) => {
                    return Err(JournalError {
                        line: index + 1,
                        detail: error.to_string(),
                    });
                }
            }
        }
        Ok(records)
    }
}

/// A journal line that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JournalError {
    /// The line number, from 1.
    pub line: usize,
    /// What is wrong with it.
    pub detail: String,
}

impl fmt::Display for JournalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "journal line {} is unreadable ({}); the journal is damaged: move it aside to start afresh \
             (files already created would then be uploaded again)",
            self.line, self.detail
        )
    }
}

impl std::error::Error for JournalError {}
