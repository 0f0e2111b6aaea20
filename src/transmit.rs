//! What a machine asks an adapter to send: a request whose body is a descriptor, not bytes.

use std::fmt;

use http::header::{AUTHORIZATION, HeaderValue};
use serde::{Deserialize, Serialize};

use crate::AccessToken;

/// Identifies one request a machine emitted, so that its reply is matched to it and a stale reply is
/// refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct RequestId(pub u64);

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// The body of a request, described rather than held, so that file bytes stream straight from the
/// source and memory stays flat however large the file.
#[derive(Clone, PartialEq, Eq)]
pub enum Payload {
    /// No body (`Content-Length: 0`).
    Empty,
    /// A small body the machine built itself (JSON, or an url-encoded form); sent as is.
    Bytes(Vec<u8>),
    /// `len` bytes of the upload's source starting at `offset`; the adapter reads and streams them.
    Range {
        /// First byte of the source to send.
        offset: u64,
        /// Number of bytes to send; also the request's `Content-Length`.
        len: u64,
    },
}

impl Payload {
    /// The request's `Content-Length`.
    pub fn len(&self) -> u64 {
        match self {
            Self::Empty => 0,
            Self::Bytes(bytes) => bytes.len() as u64,
            Self::Range { len, .. } => *len,
        }
    }

    /// Whether the body is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl fmt::Debug for Payload {
    // Built bodies can hold upload tokens or OAuth codes, so only their size is shown.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Empty => write!(f, "Empty"),
            Self::Bytes(bytes) => write!(f, "Bytes({} bytes)", bytes.len()),
            Self::Range { offset, len } => write!(f, "Range {{ offset: {offset}, len: {len} }}"),
        }
    }
}

/// One request to perform: send `request` (with its body described by its [`Payload`]) and hand the
/// reply, or the transport error, back to the machine under `id`.
pub struct Transmit {
    /// Matches the reply to this request.
    pub id: RequestId,
    /// Method, URL, headers and body descriptor. It carries no `Authorization` header yet.
    pub request: http::Request<Payload>,
    /// Whether the origin policy ([`crate::Endpoint::may_carry_token`]) lets this request carry the
    /// bearer token.
    pub bearer: bool,
}

impl Transmit {
    /// Adds `Authorization: Bearer <token>` when the origin policy allows it, and returns the request.
    pub fn authorize(mut self, token: Option<&AccessToken>) -> http::Request<Payload> {
        if let (true, Some(token)) = (self.bearer, token)
            && let Ok(mut value) = HeaderValue::from_str(&format!("Bearer {}", token.expose()))
        {
            value.set_sensitive(true);
            self.request.headers_mut().insert(AUTHORIZATION, value);
        }
        self.request
    }
}

impl PartialEq for Transmit {
    fn eq(&self, other: &Self) -> bool {
        self.id == other.id
            && self.bearer == other.bearer
            && self.request.method() == other.request.method()
            && self.request.uri() == other.request.uri()
            && self.request.headers() == other.request.headers()
            && self.request.body() == other.request.body()
    }
}

impl fmt::Debug for Transmit {
    // The URL may be a session URL (a capability), so only the method and path kind are shown.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Transmit")
            .field("id", &self.id)
            .field("method", self.request.method())
            .field("body", self.request.body())
            .field("bearer", &self.bearer)
            .finish_non_exhaustive()
    }
}
