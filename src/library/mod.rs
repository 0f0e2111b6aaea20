//! The Photos Library calls: `mediaItems:batchCreate`, `mediaItems.get`, `albums.create`,
//! `albums:batchAddMediaItems`, and the simple (raw) upload of a small file.
//!
//! Each call is described by a request type that validates its input when built ([`BatchCreate`],
//! [`GetMediaItem`], [`CreateAlbum`], [`AddToAlbum`], [`SimpleUpload`]) and is run by one machine,
//! [`Call`], which applies the retry rules: it is driven exactly like [`crate::Upload`]
//! (`poll_action`, `handle_response`, `handle_transport_error`, `token_refreshed`).
//!
//! # Ambiguous outcomes
//!
//! Calls that create something (`batchCreate`, `albums.create`, `batchAddMediaItems`) are never
//! re-sent blindly: after a transport error once the request may have left, a 408 or a
//! 500/502/503/504, whether the server acted is unknown, and the call ends with
//! [`CallAction::Ambiguous`]. Record it and resolve it; for `batchCreate` re-send the same items
//! with [`BatchCreate::after_ambiguous`]: upload tokens are single-use, so the re-send can never
//! create a second media item, and items whose token is then refused come back as
//! [`ItemOutcome::Unconfirmed`] (most likely created by the ambiguous call).
//!
//! ```
//! use std::time::Instant;
//! use gphotos_upload::library::{BatchCreate, Call, CallAction, Destination, NewMediaItem};
//! use gphotos_upload::{Endpoint, RetryPolicy, UploadToken};
//!
//! let items = vec![NewMediaItem::new(UploadToken::new("token-from-the-upload"))];
//! let calls = BatchCreate::split(items, &Destination::default())?;
//! let mut call = Call::new(Endpoint::google(), calls[0].clone(), RetryPolicy::default(), 7);
//! let CallAction::Send(transmit) = call.poll_action(Instant::now()) else { unreachable!() };
//! assert_eq!(transmit.request.uri().path(), "/v1/mediaItems:batchCreate");
//! assert!(transmit.bearer);
//! # Ok::<(), gphotos_upload::library::InvalidRequest>(())
//! ```

mod albums;
mod batch_create;
mod call;
mod error;
mod get;
mod media_item;
mod simple_upload;
mod wire;

pub use albums::{AddToAlbum, Album, CreateAlbum, MAX_ALBUM_TITLE_CHARS};
pub use batch_create::{
    AlbumPosition, BatchCreate, BatchCreated, Destination, ItemFailure, ItemOutcome, ItemResult,
    MAX_DESCRIPTION_CHARS, MAX_FILE_NAME_CHARS, NewMediaItem, Unconfirmed,
};
pub use call::{Ambiguity, Call, CallAction, LibraryRequest, Resend};
pub use error::{IdKind, InvalidRequest, LibraryError};
pub use get::GetMediaItem;
pub use media_item::MediaItem;
pub use simple_upload::SimpleUpload;

/// Most items (or media item ids) one `batchCreate` or `batchAddMediaItems` call may carry.
pub const MAX_BATCH: usize = 50;

/// A `batchCreate` call run by the retry machine.
pub type BatchCreateCall = Call<BatchCreate>;
/// A `mediaItems.get` call run by the retry machine.
pub type GetMediaItemCall = Call<GetMediaItem>;
/// An `albums.create` call run by the retry machine.
pub type CreateAlbumCall = Call<CreateAlbum>;
/// An `albums:batchAddMediaItems` call run by the retry machine.
pub type AddToAlbumCall = Call<AddToAlbum>;
/// A simple (raw) upload run by the retry machine.
pub type SimpleUploadCall = Call<SimpleUpload>;
