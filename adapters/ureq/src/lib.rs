//! Blocking uploads to Google Photos on [ureq] 3, driven by the sans-IO core [`gphotos_upload`].
//!
//! The core's machines make every decision (chunk boundaries, offsets, finalize, retries, backoff,
//! resume after a fault); this crate performs the requests they ask for, streams chunk bytes
//! straight from the file (one buffer of [`DEFAULT_IO_BUFFER`] bytes, whatever the file size), and
//! sleeps when they say wait.
//!
//! # A script in five lines
//!
//! ```no_run
//! use gphotos_upload_ureq::library::{Destination, NewMediaItem};
//! use gphotos_upload_ureq::{Client, Credentials, Endpoint};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let endpoint = Endpoint::parse("https://photoslibrary.googleapis.com/v1/")?;
//! let client = Client::new(endpoint, Credentials::bearer(std::env::var("GPHOTOS_ACCESS_TOKEN")?))?;
//! let token = client.upload_file("photo.jpg")?; // resumable, survives dropped connections
//! let item = NewMediaItem::new(token).with_file_name("photo.jpg");
//! let created = client.create_media_items(vec![item], &Destination::library())?;
//! # let _ = created;
//! # Ok(())
//! # }
//! ```
//!
//! `created` tells item by item what happened: Google answers HTTP 200 even when items failed, so
//! an item exists only when its outcome is [`library::ItemOutcome::Created`]. A `token.json` from
//! `gphotos-upload auth login` (or Python's google-auth) works in place of the bare token:
//! `Credentials::token_file("token.json")?` refreshes it when it expires or is refused.
//!
//! # Progress and crash journals
//!
//! [`Client::new_upload`] hands out the upload machine; [`Client::upload_with`] drives it and tells
//! an [`Observer`] after every step. The machine serializes with serde, so a journal that saves it
//! at each step lets a killed process resume with the same session:
//!
//! ```no_run
//! # use gphotos_upload_ureq::{Client, Credentials, Endpoint, media_file};
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let client = Client::new(Endpoint::google(), Credentials::bearer("t"))?;
//! let mut upload = client.new_upload(media_file("video.mp4")?)?;
//! let mut journal = |u: &gphotos_upload::Upload| {
//!     let progress = u.progress();
//!     eprintln!("{} of {} bytes", progress.confirmed, progress.total);
//!     // std::fs::write("video.mp4.journal", serde_json::to_vec(u).unwrap()) ...
//! };
//! let token = client.upload_file_resuming(&mut upload, "video.mp4", &mut journal)?;
//! # let _ = token;
//! # Ok(())
//! # }
//! ```
//!
//! # Library calls
//!
//! [`Client::create_media_items`], [`Client::get_media_item`], [`Client::create_album`],
//! [`Client::add_to_album`], [`Client::upload_file_simple`] and the generic [`Client::call`] run the
//! core's call machine: retries where they are safe, and [`Error::Ambiguous`] instead of a blind
//! retry when a `batchCreate` or album call may already have taken effect.
//!
//! # Many files
//!
//! [`Client::upload_files`] runs the core's multi-file job on worker threads: several uploads at
//! once, tokens grouped into `batchCreate` calls, and a [`Journal`] written ahead of every request,
//! so that running the same job again after a crash resumes instead of starting over and never
//! creates an item twice. The journal is locked while open (a second run of the same job is
//! refused with [`JournalOpenError::InUse`]), private (mode 0600), and survives a torn last line.
//! [`Client::run_job`] is the same with a [`JobObserver`] of your own (a progress display, your own
//! journal).
//!
//! # Security
//! The bearer token goes only where the core's origin policy allows ([`Endpoint::may_carry_token`]);
//! redirects are never followed. Errors never quote tokens or session URLs. ureq itself logs full
//! request URLs (session URLs included) at the `log` crate's `trace` level only: keep `ureq` below
//! `trace` in production logging.
//!
//! [ureq]: https://docs.rs/ureq/3

mod calls;
mod client;
mod config;
mod credentials;
mod drive;
mod error;
mod journal;
pub mod mime;
pub mod oauth;
mod observer;
mod runner;
mod transport;

pub use client::{Client, ClientBuilder, media_file};
pub use config::{DEFAULT_IO_BUFFER, DEFAULT_MAX_REPLY_BYTES, Timeouts};
pub use credentials::{Credentials, TokenProvider};
pub use error::Error;
pub use journal::{JobReport, Journal, JournalOpenError, job_file};
pub use observer::{Observer, Quiet};
pub use runner::JobObserver;

/// The core's multi-file job types ([`job::JobFile`], [`job::JobConfig`], [`job::FileOutcome`]).
pub use gphotos_upload::job;
/// The core's Library types ([`library::NewMediaItem`], [`library::Destination`], results), so that
/// a script needs no other import.
pub use gphotos_upload::library;
pub use gphotos_upload::{
    AccessToken, Endpoint, GOOGLE_API_ROOT, MediaFile, Progress, RetryPolicy, Upload, UploadConfig,
    UploadToken,
};
