//! Sans-IO core of `gphotos-upload`: state machines for Google Photos uploads.

mod endpoint;
mod error;
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
