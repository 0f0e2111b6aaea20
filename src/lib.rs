//! Sans-IO core of `gphotos-upload`: state machines for Google Photos uploads.

mod endpoint;
mod secret;
mod transmit;

pub use endpoint::{Endpoint, EndpointError, GOOGLE_API_ROOT, is_loopback};
pub use secret::{AccessToken, ClientSecret, RefreshToken, SessionUrl, UploadToken};
pub use transmit::{Payload, RequestId, Transmit};
