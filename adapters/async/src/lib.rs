//! Async driver for [`gphotos_upload`]: the core's machines on any executor.
//!
//! The core decides everything (chunk boundaries, offsets, finalize, retries, backoff, resume);
//! this crate only performs what it asks. An executor brings two things through the [`Transport`]
//! trait: sending an `http::Request` whose [`Body`] streams one chunk's bytes in [`Frame`]s (getting
//! back a bounded `http::Response<Vec<u8>>`), and sleeping until an `Instant`. The [`Driver`] is then a loop of
//! *poll the machine, perform the action, feed back the outcome*.
//!
//! - **Any executor.** Default features pull no runtime: only `futures-util`, `futures-io` and
//!   `http`. Enable `hyper` for `HyperTransport`, a ready transport on hyper 1 and tokio.
//! - **Flat memory, one copy.** The transport pulls a chunk frame by frame ([`FRAME_SIZE`] at most);
//!   the driver has the [`Source`] read each frame only then, straight into memory the transport
//!   sends without copying it again. Memory is a few frames per request in flight, never a chunk,
//!   never a file. A source that fails mid-chunk ends the upload with its own error
//!   ([`DriveError::Source`]), never with a truncated body or a reply to one. Sources exist for
//!   blocking readers ([`BlockingSource`]), `futures-io` readers ([`AsyncSource`]) and, with
//!   `hyper`, tokio files (`TokioSource`, `TokioFile`).
//! - **Many files.** [`Driver::run_job`] runs the core's multi-file `job::Job` (uploads with a
//!   concurrency limit, tokens grouped into `batchCreate` calls, the album, the journal from which a
//!   killed run resumes) inside one future; nothing is spawned. [`Driver::upload_many`] is the
//!   lighter form: many uploads with a concurrency limit, returning their upload tokens.
//! - **Cancellation safe.** Drivers borrow the machine (`&mut Upload`), so the caller keeps it.
//!   Dropping a driver future, even mid-chunk, leaves the machine counting that request as
//!   interrupted; running the driver again (or restoring the machine's serde snapshot in a new
//!   process) asks the server how much it holds and carries on in the same session.
//! - **Library calls.** [`Driver::call`] runs the core's `library::Call` machines
//!   (`batchCreate`, `mediaItems.get`, `albums.create`, `albums:batchAddMediaItems`);
//!   [`Driver::call_with_source`] the simple upload. A call that must not repeat blindly ends in
//!   [`DriveError::Ambiguous`] when its effect is unknown, also when its future is dropped mid-flight.
//! - **Tokens.** An [`Authorizer`] supplies the bearer token and refreshes it when the machine
//!   reports a refusal. [`StaticToken`] wraps a fixed token; [`OAuthTokens`] serves a google-auth
//!   `token.json` ([`gphotos_upload::oauth::TokenFile`]), refreshing it at its `token_uri` before
//!   expiry and on refusal (once for all uploads refused together) over the same transport;
//!   [`exchange_token`] also runs the consent flow's code exchange.
//!
//! # Send bounds
//! The trait futures carry no `Send` bound, so single-threaded clients and executors can implement
//! them. Driver futures are `Send` whenever the concrete transport's are: with `HyperTransport`
//! a driver future can be handed to `tokio::spawn`.
//!
//! # Example (tokio, feature `hyper`)
//! ```no_run
//! # #[cfg(feature = "hyper")]
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use gphotos_upload::{AccessToken, Endpoint, MediaFile, Upload, UploadConfig};
//! use gphotos_upload_async::{Driver, HyperTransport, StaticToken, TokioFile};
//!
//! let path = "photo.jpg";
//! let file = MediaFile {
//!     size: tokio::fs::metadata(path).await?.len(),
//!     mime_type: "image/jpeg".into(),
//!     file_name: Some("photo.jpg".into()),
//! };
//! let endpoint = Endpoint::parse("http://127.0.0.1:8080/v1/")?; // an emulator; https for Google
//! let mut upload = Upload::new(endpoint, file, UploadConfig::default())?;
//! let driver = Driver::new(HyperTransport::new(), StaticToken(AccessToken::new("ya29...")));
//! let upload_token = driver.upload(&mut upload, TokioFile::new(path)).await?;
//! // Hand `upload_token` to mediaItems:batchCreate.
//! # drop(upload_token);
//! # Ok(())
//! # }
//! ```
//!
//! The `examples/` directory has complete programs for tokio (`tokio.rs`) and for a hand-rolled
//! `block_on` with a transport on `std::net` (`block_on.rs`), both against the emulator.

mod auth;
mod body;
mod driver;
mod error;
mod frame;
mod in_flight;
mod job;
mod oauth;
mod source;
mod transport;

pub use auth::{AuthError, Authorizer, NoToken, StaticToken};
pub use body::{Body, InMemory};
pub use driver::Driver;
pub use error::DriveError;
pub use frame::{FRAME_SIZE, Frame};
pub use job::JobObserver;
pub use oauth::{OAuthTokens, SaveTokenFile, exchange_token};
pub use source::{AsyncSource, BlockingSource, Source};
pub use transport::{MAX_RESPONSE_BODY, Transport};

#[cfg(feature = "hyper")]
mod hyper;
#[cfg(feature = "hyper")]
pub use hyper::{DEFAULT_REQUEST_TIMEOUT, HyperBody, HyperError, HyperTransport};
#[cfg(feature = "hyper")]
mod tokio_file;
#[cfg(feature = "hyper")]
pub use tokio_file::{TokioFile, TokioSource};
