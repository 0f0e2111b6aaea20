//! Errors of the machines, sorted by who is at fault, each with a message that says what to do.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::RequestId;

/// Who is at fault for an [`Error`]: it decides whether a rerun can help.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// The caller asked for something impossible; change the input.
    Caller,
    /// The server broke the protocol or refused the request.
    Server,
    /// A bound was reached (retries, quota, sessions); a later rerun resumes.
    Limit,
}

/// Why an operation ended without success.
///
/// Messages never contain tokens, session URLs or upload tokens.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Error {
    /// The file is empty; Google Photos cannot hold an empty media item.
    EmptyFile,
    /// The caller's input cannot be sent as is.
    InvalidInput {
        /// What is wrong and how to fix it.
        reason: String,
    },
    /// The caller cancelled the upload.
    Cancelled,
    /// A reply broke the protocol (a missing or malformed header, an impossible value).
    Protocol {
        /// What was wrong with the reply.
        detail: String,
    },
    /// The server refused the request with a status that retrying does not cure.
    Rejected {
        /// The HTTP status code.
        status: u16,
        /// The server's own explanation, when it gave one.
        message: String,
    },
    /// The server reported more bytes received than were ever sent: it cannot be trusted with this
    /// upload.
    TooMuchProgress {
        /// What the server reported.
        reported: u64,
        /// The end of the bytes actually sent.
        sent: u64,
    },
    /// The server lost acknowledged bytes again and again.
    Rewinds {
        /// How many times it went back.
        count: u32,
    },
    /// Transient failures went on past the retry policy's bounds.
    RetriesExhausted {
        /// Failures in a row.
        attempts: u32,
        /// The last failure.
        last: String,
    },
    /// The project's daily request quota is spent.
    DailyQuota,
    /// The access token was refused even after a refresh.
    Unauthorized,
    /// Upload sessions kept expiring or finalizing without a token.
    SessionsExhausted {
        /// Sessions started for this file.
        sessions: u32,
    },
}

impl Error {
    /// Who is at fault.
    pub fn fault(&self) -> Fault {
        match self {
            Self::EmptyFile | Self::InvalidInput { .. } | Self::Cancelled => Fault::Caller,
            Self::Protocol { .. }
            | Self::Rejected { .. }
            | Self::TooMuchProgress { .. }
            | Self::Rewinds { .. } => Fault::Server,
            Self::RetriesExhausted { .. }
            | Self::DailyQuota
            | Self::Unauthorized
            | Self::SessionsExhausted { .. } => Fault::Limit,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::EmptyFile => write!(
                f,
                "the file is empty; Google Photos cannot store an empty media item, so nothing was sent"
            ),
            Self::InvalidInput { reason } => write!(f, "invalid input: {reason}"),
            Self::Cancelled => write!(f, "the upload was cancelled"),
            Self::Protocol { detail } => write!(
                f,
                "the server broke the upload protocol ({detail}); rerun to resume, and report it if it persists"
            ),
            Self::Rejected { status, message } => {
                write!(f, "the server refused the request with HTTP {status}")?;
                if !message.is_empty() {
                    write!(f, ": {message}")?;
                }
                Ok(())
            }
            Self::TooMuchProgress { reported, sent } => write!(
                f,
                "the server claims {reported} bytes received but only {sent} were sent; \
                 the upload was stopped so that no corrupt item is created; rerun to start it afresh"
            ),
            Self::Rewinds { count } => write!(
                f,
                "the server lost bytes it had acknowledged {count} times; rerun later to resume"
            ),
            Self::RetriesExhausted { attempts, last } => write!(
                f,
                "gave up after {attempts} failed attempts in a row (last: {last}); \
                 the upload is kept and a rerun resumes it"
            ),
            Self::DailyQuota => write!(
                f,
                "the Google Photos API daily request quota is spent; rerun tomorrow \
                 (quota resets at midnight Pacific time) and the run resumes where it stopped"
            ),
            Self::Unauthorized => write!(
                f,
                "the access token was refused; refresh it or sign in again (gphotos-upload auth login)"
            ),
            Self::SessionsExhausted { sessions } => write!(
                f,
                "started {sessions} upload sessions for this file and none finished; rerun later"
            ),
        }
    }
}

impl std::error::Error for Error {}

/// The caller drove a machine wrongly (a bug in the adapter, not in the input).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Misuse {
    /// A reply or transport error came for a request that is not the one in flight (stale, unknown or
    /// already answered).
    UnexpectedReply {
        /// The id given.
        id: RequestId,
    },
}

impl fmt::Display for Misuse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnexpectedReply { id } => write!(
                f,
                "request {id} is not in flight: each reply must be handed back once, for the request just sent"
            ),
        }
    }
}

impl std::error::Error for Misuse {}
