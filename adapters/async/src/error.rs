//! Why a driver stopped.

use std::{fmt, io};

use gphotos_upload::library::{Ambiguity, LibraryError};

use crate::AuthError;

/// Why a driver returned without success. The machine it drove is left in a state from which a
/// later run resumes (see [`crate::Driver::upload`]).
#[derive(Debug)]
#[non_exhaustive]
pub enum DriveError {
    /// The machine ended the operation: retries exhausted, quota spent, refusal, protocol fault...
    /// The core's error says who is at fault and what to do.
    Upload(gphotos_upload::Error),
    /// A Library call failed; the server did not act on it (or it is safe to repeat).
    Library(LibraryError),
    /// A Library call that must not be repeated blindly may or may not have taken effect; see
    /// [`Ambiguity`] for how to resolve it.
    Ambiguous(Ambiguity),
    /// Reading the file failed (also part-way through a chunk: the request was abandoned before its
    /// body was complete, and any reply to it was ignored). A rerun asks the server where it stands
    /// and carries on.
    Source(io::Error),
    /// No usable access token.
    Auth(AuthError),
    /// A job's journal record could not be persisted; the run stopped so that a rerun cannot
    /// create anything twice.
    Journal(io::Error),
    /// The machine already had a request in flight that this driver did not send (it was driven by
    /// hand and that request's outcome was never handed back). Hand it back, or restore the machine
    /// from a snapshot, which counts such a request as interrupted.
    ForeignRequestInFlight,
}

impl fmt::Display for DriveError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Upload(error) => error.fmt(f),
            Self::Library(error) => error.fmt(f),
            Self::Ambiguous(ambiguity) => ambiguity.fmt(f),
            Self::Source(error) => write!(
                f,
                "could not read the file: {error}; the upload is kept and a rerun resumes it"
            ),
            Self::Auth(error) => error.fmt(f),
            Self::Journal(error) => write!(
                f,
                "could not write the job's journal: {error}; the run stopped, and a rerun resumes \
                 from what the journal holds"
            ),
            Self::ForeignRequestInFlight => write!(
                f,
                "the machine is waiting for the outcome of a request this driver did not send; \
                 hand that outcome back or restore the machine from its snapshot"
            ),
        }
    }
}

impl std::error::Error for DriveError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Upload(error) => Some(error),
            Self::Library(error) => Some(error),
            Self::Source(error) | Self::Journal(error) => Some(error),
            Self::Auth(error) => Some(error),
            Self::Ambiguous(_) | Self::ForeignRequestInFlight => None,
        }
    }
}

impl From<gphotos_upload::Error> for DriveError {
    fn from(error: gphotos_upload::Error) -> Self {
        Self::Upload(error)
    }
}
