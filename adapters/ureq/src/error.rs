//! The adapter's one error type.

use std::fmt;
use std::io;
use std::path::PathBuf;

use gphotos_upload::Misuse;

/// Why an upload or a call ended without success.
///
/// Messages say what happened and what to do, and never contain tokens, session URLs or upload
/// tokens.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The core ended the operation: the server refused it, broke the protocol, or a limit (retries,
    /// quota, sessions) was reached. [`gphotos_upload::Error::fault`] says who is at fault.
    Core(gphotos_upload::Error),
    /// A Library call (`batchCreate`, `mediaItems.get`, albums, the simple upload) failed; the
    /// server did not act on it.
    Library(gphotos_upload::library::LibraryError),
    /// A call that must not be repeated blindly (`batchCreate`, album calls) may or may not have
    /// taken effect; see [`gphotos_upload::library::Ambiguity`] for how to resolve it.
    Ambiguous(gphotos_upload::library::Ambiguity),
    /// The file (or reader) being uploaded could not be read.
    Source {
        /// The file, when the upload came from a path.
        path: Option<PathBuf>,
        /// What went wrong.
        error: io::Error,
    },
    /// The file's extension is not a photo or video type Google Photos takes.
    UnknownMediaType {
        /// The file.
        path: PathBuf,
    },
    /// No access token could be had (the token provider failed, or a fixed token was refused).
    Credentials {
        /// What went wrong and what to do.
        reason: String,
    },
    /// A `token.json` could not be read, parsed or written.
    TokenFile {
        /// The file.
        path: PathBuf,
        /// What went wrong and what to do.
        reason: String,
    },
    /// A job's journal record could not be made durable; the run stopped so that a rerun cannot
    /// lose track of an upload or create an item twice.
    Journal(io::Error),
    /// The adapter was configured or driven wrongly.
    Misuse {
        /// What is wrong.
        reason: String,
    },
}

impl Error {
    /// The core's error, when the core ended the operation.
    pub fn core(&self) -> Option<&gphotos_upload::Error> {
        match self {
            Self::Core(error) => Some(error),
            _ => None,
        }
    }

    pub(crate) fn source_io(path: Option<PathBuf>, error: io::Error) -> Self {
        Self::Source { path, error }
    }

    pub(crate) fn misuse(reason: impl Into<String>) -> Self {
        Self::Misuse {
            reason: reason.into(),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Core(error) => error.fmt(f),
            Self::Library(error) => error.fmt(f),
            Self::Ambiguous(ambiguity) => ambiguity.fmt(f),
            Self::Source {
                path: Some(path),
                error,
            } => write!(
                f,
                "cannot read {}: {error}; check that the file exists, is readable and did not \
                 change during the upload",
                path.display()
            ),
            Self::Source { path: None, error } => {
                write!(f, "cannot read the upload's source: {error}")
            }
            Self::UnknownMediaType { path } => write!(
                f,
                "{} is not a photo or video type Google Photos accepts (judged by its extension); \
                 rename it with the right extension or give its MIME type explicitly",
                path.display()
            ),
            Self::Credentials { reason } => write!(f, "no usable access token: {reason}"),
            Self::TokenFile { path, reason } => {
                write!(f, "token file {}: {reason}", path.display())
            }
            Self::Journal(error) => write!(
                f,
                "cannot write the journal: {error}; free disk space or fix its permissions, then \
                 rerun the same command to resume"
            ),
            Self::Misuse { reason } => write!(f, "gphotos-upload-ureq was used wrongly: {reason}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Core(error) => Some(error),
            Self::Library(error) => Some(error),
            Self::Source { error, .. } | Self::Journal(error) => Some(error),
            _ => None,
        }
    }
}

impl From<gphotos_upload::Error> for Error {
    fn from(error: gphotos_upload::Error) -> Self {
        Self::Core(error)
    }
}

impl From<Misuse> for Error {
    fn from(misuse: Misuse) -> Self {
        Self::misuse(misuse.to_string())
    }
}
