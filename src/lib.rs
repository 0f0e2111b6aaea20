//! Sans-IO core of `gphotos-upload`: the state machines behind Google Photos uploads.
//!
//! The core turns upload progress into [`http::Request`] values and consumes [`http::Response`]
//! values. It owns no socket, file, clock or thread and never sleeps: the current time comes in as an
//! argument, request bodies are descriptors ([`Payload`]) that the adapter fills from its source, and
//! every decision (chunk boundaries, finalize, resync, retry and backoff, new sessions) is made here.
//! Adapters such as `gphotos-upload-ureq` are loops of a few lines around [`Upload::poll_action`].
//!
//! # Driving an upload by hand
//!
//! The complete run loop of a tiny adapter. Its "network" is a scripted server that stores the bytes
//! of each chunk; a real adapter would send the request instead and sleep on
//! [`Action::WaitUntil`].
//!
//! ```
//! use std::time::Instant;
//! use gphotos_upload::{Action, Endpoint, MediaFile, Payload, Upload, UploadConfig};
//! use http::{Request, Response};
//!
//! let photo: Vec<u8> = (0..700_000u32).map(|i| i as u8).collect();
//! let endpoint = Endpoint::parse("http://127.0.0.1:8080/v1/")?;
//! let file = MediaFile { size: photo.len() as u64, mime_type: "image/jpeg".into(), file_name: None };
//! let config = UploadConfig { chunk_size: 256 * 1024, ..UploadConfig::default() };
//! let mut upload = Upload::new(endpoint, file, config)?;
//!
//! // The scripted server: a start reply, then acknowledgements, then the token.
//! let mut stored = Vec::new();
//! let mut server = |request: &Request<Payload>, body: &[u8]| -> Response<Vec<u8>> {
//!     let command = request.headers()["x-goog-upload-command"].to_str().unwrap();
//!     let reply = Response::builder();
//!     match command {
//!         "start" => reply
//!             .header("x-goog-upload-url", "http://127.0.0.1:8080/upload/1")
//!             .header("x-goog-upload-chunk-granularity", "262144")
//!             .header("x-goog-upload-status", "active"),
//!         "upload" => {
//!             stored.extend_from_slice(body);
//!             reply.header("x-goog-upload-status", "active")
//!         }
//!         "upload, finalize" => {
//!             stored.extend_from_slice(body);
//!             reply.header("x-goog-upload-status", "final")
//!         }
//!         other => panic!("unexpected command {other}"),
//!     }
//!     .body(if command == "upload, finalize" { b"upload-token-1".to_vec() } else { Vec::new() })
//!     .unwrap()
//! };
//!
//! let token = loop {
//!     match upload.poll_action(Instant::now()) {
//!         Action::Send(transmit) => {
//!             let id = transmit.id;
//!             // The bearer token is attached only where the origin policy allows it.
//!             let request = transmit.authorize(Some(&gphotos_upload::AccessToken::new("ya29.x")));
//!             let body = match request.body() {
//!                 Payload::Range { offset, len } => &photo[*offset as usize..(*offset + *len) as usize],
//!                 Payload::Bytes(bytes) => bytes.as_slice(),
//!                 Payload::Empty => &[],
//!             };
//!             let reply = server(&request, body);
//!             upload.handle_response(Instant::now(), id, &reply)?;
//!         }
//!         Action::WaitUntil(at) => std::thread::sleep(at.saturating_duration_since(Instant::now())),
//!         Action::RefreshToken => upload.token_refreshed(),
//!         Action::AwaitReply => unreachable!("this loop always answers before polling"),
//!         Action::Done(token) => break token,
//!         Action::Failed(error) => return Err(error.into()),
//!     }
//! };
//! assert_eq!(stored, photo);
//! assert_eq!(token.expose(), "upload-token-1");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Modules
//!
//! - [`upload`]: one file's resumable upload session, and the wire format of the protocol;
//! - [`library`]: the Photos Library calls (`batchCreate` with per-item outcomes, `mediaItems.get`,
//!   albums, the simple upload) on one retry machine that never repeats a creating call blindly;
//! - [`job`]: many files at once: which uploads run, tokens grouped into `batchCreate` calls of 50,
//!   and a journal from which a killed run resumes without creating anything twice;
//! - [`oauth`]: scopes, `client_secret.json`, `token.json` (google-auth's format), the token refresh
//!   and the installed-app consent flow with PKCE;
//! - [`retry`]: the retry policy (classification, backoff with full jitter, `Retry-After`);
//! - [`Endpoint`]: the API root and the origin policy for the bearer token;
//! - secret types ([`AccessToken`], [`UploadToken`], ...) whose `Debug` never shows the value.

mod endpoint;
mod error;
pub mod job;
pub mod library;
pub mod oauth;
pub mod retry;
mod secret;
mod transmit;
pub mod upload;

pub use endpoint::{Endpoint, EndpointError, GOOGLE_API_ROOT, is_loopback};
pub use error::{Error, Fault, Misuse};
pub use retry::RetryPolicy;
pub use secret::{AccessToken, ClientSecret, RefreshToken, SessionUrl, UploadToken};
pub use transmit::{Payload, RequestId, Transmit};
pub use upload::{Action, MediaFile, Phase, Progress, Upload, UploadConfig};
