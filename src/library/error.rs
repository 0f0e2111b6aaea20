//! Why a Library call could not be made, or ended without success.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::Fault;

/// Which kind of identifier an [`InvalidRequest`] is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum IdKind {
    /// A media item id.
    MediaItem,
    /// An album id.
    Album,
    /// The media item an [`super::AlbumPosition`] is relative to.
    RelativeMediaItem,
    /// The enrichment item an [`super::AlbumPosition`] is relative to.
    RelativeEnrichmentItem,
}

impl fmt::Display for IdKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::MediaItem => "media item id",
            Self::Album => "album id",
            Self::RelativeMediaItem => "relative media item id",
            Self::RelativeEnrichmentItem => "relative enrichment item id",
        })
    }
}

/// The caller's input breaks a limit of the API; nothing was sent. Item numbers count from 0 in
/// the list the caller gave.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum InvalidRequest {
    /// A call was built with no items; [`super::BatchCreate::split`] returns no call instead.
    EmptyBatch,
    /// More items than one call may carry.
    TooManyItems {
        /// Items given.
        count: usize,
        /// Items allowed ([`super::MAX_BATCH`]).
        max: usize,
    },
    /// An item has an empty upload token.
    EmptyUploadToken {
        /// Which item.
        item: usize,
    },
    /// The same upload token appears twice; a token creates one item only.
    DuplicateUploadToken {
        /// The later item.
        item: usize,
        /// The earlier item with the same token.
        first: usize,
    },
    /// A file name longer than [`super::MAX_FILE_NAME_CHARS`] characters.
    FileNameTooLong {
        /// Which item.
        item: usize,
        /// Its length in characters.
        chars: usize,
    },
    /// A description of [`super::MAX_DESCRIPTION_CHARS`] characters or more.
    DescriptionTooLong {
        /// Which item.
        item: usize,
        /// Its length in characters.
        chars: usize,
    },
    /// An album position was given without an album.
    PositionWithoutAlbum,
    /// An identifier is empty, too long, or `.`/`..`.
    BadId {
        /// Which identifier.
        kind: IdKind,
        /// Which one in the list (for lists of ids), if any.
        item: Option<usize>,
    },
    /// The same media item id appears twice in one album call.
    DuplicateId {
        /// The later entry.
        item: usize,
        /// The earlier entry.
        first: usize,
    },
    /// An album title that is empty or longer than [`super::MAX_ALBUM_TITLE_CHARS`] characters.
    BadAlbumTitle {
        /// Its length in characters.
        chars: usize,
    },
    /// A zero-byte file: Google Photos cannot hold an empty media item.
    EmptyFile,
    /// A MIME type that cannot be sent in a header.
    BadMimeType,
}

impl fmt::Display for InvalidRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::EmptyBatch => write!(f, "a call needs at least one item"),
            Self::TooManyItems { count, max } => write!(
                f,
                "{count} items given but one call takes at most {max}; split them (BatchCreate::split, AddToAlbum::split)"
            ),
            Self::EmptyUploadToken { item } => {
                write!(
                    f,
                    "item {item} has an empty upload token; upload the file first"
                )
            }
            Self::DuplicateUploadToken { item, first } => write!(
                f,
                "item {item} has the same upload token as item {first}; a token creates only one media item"
            ),
            Self::FileNameTooLong { item, chars } => write!(
                f,
                "item {item} has a file name of {chars} characters; Google Photos takes at most {}",
                super::MAX_FILE_NAME_CHARS
            ),
            Self::DescriptionTooLong { item, chars } => write!(
                f,
                "item {item} has a description of {chars} characters; Google Photos takes fewer than {}",
                super::MAX_DESCRIPTION_CHARS
            ),
            Self::PositionWithoutAlbum => {
                write!(
                    f,
                    "an album position needs an album id; give one or drop the position"
                )
            }
            Self::BadId { kind, item } => {
                write!(f, "the {kind}")?;
                if let Some(item) = item {
                    write!(f, " at {item}")?;
                }
                write!(
                    f,
                    " is empty, too long or not an id; use an id Google returned"
                )
            }
            Self::DuplicateId { item, first } => write!(
                f,
                "media item id {item} repeats id {first}; give each media item once"
            ),
            Self::BadAlbumTitle { chars } => write!(
                f,
                "an album title of {chars} characters; give a title of 1 to {} characters",
                super::MAX_ALBUM_TITLE_CHARS
            ),
            Self::EmptyFile => write!(
                f,
                "the file is empty; Google Photos cannot store an empty media item, so nothing was sent"
            ),
            Self::BadMimeType => write!(f, "the MIME type is not a valid header value"),
        }
    }
}

impl std::error::Error for InvalidRequest {}

/// Why a Library call ended without success.
///
/// This is never an ambiguous outcome: those end the call with [`super::CallAction::Ambiguous`].
/// Messages never contain tokens or upload tokens.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum LibraryError {
    /// The input breaks a limit of the API; nothing was sent.
    Invalid(InvalidRequest),
    /// The server refused the call with a status that retrying does not cure; it did nothing.
    Rejected {
        /// The HTTP status code.
        status: u16,
        /// The server's own explanation, when it gave one.
        message: String,
    },
    /// A reply to a call that is safe to repeat could not be read, again and again, or the server
    /// broke the protocol.
    Protocol {
        /// What was wrong with the reply.
        detail: String,
    },
    /// Transient failures went on past the retry policy's bounds; the call did nothing.
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
}

impl LibraryError {
    /// Who is at fault.
    pub fn fault(&self) -> Fault {
        match self {
            Self::Invalid(_) => Fault::Caller,
            Self::Rejected { .. } | Self::Protocol { .. } => Fault::Server,
            Self::RetriesExhausted { .. } | Self::DailyQuota | Self::Unauthorized => Fault::Limit,
        }
    }
}

impl From<InvalidRequest> for LibraryError {
    fn from(invalid: InvalidRequest) -> Self {
        Self::Invalid(invalid)
    }
}

impl fmt::Display for LibraryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Invalid(invalid) => write!(f, "invalid request: {invalid}"),
            Self::Rejected { status, message } => {
                write!(f, "the server refused the call with HTTP {status}")?;
                if !message.is_empty() {
                    write!(f, ": {message}")?;
                }
                match status {
                    403 => write!(
                        f,
                        " (check that the token was granted the scope this call needs; sign in again if not)"
                    ),
                    404 => write!(
                        f,
                        " (the item or album does not exist, or was not created by this app)"
                    ),
                    _ => Ok(()),
                }
            }
            Self::Protocol { detail } => write!(
                f,
                "the server sent a reply that cannot be read ({detail}); rerun, and report it if it persists"
            ),
            Self::RetriesExhausted { attempts, last } => write!(
                f,
                "gave up after {attempts} failed attempts in a row (last: {last}); nothing was changed, rerun later"
            ),
            Self::DailyQuota => write!(
                f,
                "the Google Photos API daily request quota is spent; rerun tomorrow \
                 (quota resets at midnight Pacific time)"
            ),
            Self::Unauthorized => write!(
                f,
                "the access token was refused; refresh it or sign in again (gphotos-upload auth login)"
            ),
        }
    }
}

impl std::error::Error for LibraryError {}
