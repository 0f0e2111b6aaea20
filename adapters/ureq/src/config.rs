//! Tunables of a [`crate::Client`].

use std::time::Duration;

/// Network timeouts. `None` means no limit.
///
/// A timeout is a transport error like any other: the core's machine decides what follows (for an
/// upload chunk, a query and a resume at the size the server reports).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// Establishing a connection, TLS handshake included.
    pub connect: Option<Duration>,
    /// Longest wait for one write of request bytes to make progress: catches a link that went
    /// silent mid-chunk without limiting how long a large chunk may take on a slow link.
    pub send_stall: Option<Duration>,
    /// Sending a whole request body (a chunk). Off by default: [`Timeouts::send_stall`] already
    /// catches dead links, and a fixed budget would fail large chunks on slow ones.
    pub send_body: Option<Duration>,
    /// Waiting for the reply's status and headers once the request is sent. Generous, because
    /// finalizing a large video can take the server a while.
    pub recv_response: Option<Duration>,
    /// Reading a reply body.
    pub recv_body: Option<Duration>,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            connect: Some(Duration::from_secs(30)),
            send_stall: Some(Duration::from_secs(60)),
            send_body: None,
            recv_response: Some(Duration::from_secs(300)),
            recv_body: Some(Duration::from_secs(60)),
        }
    }
}

impl Timeouts {
    /// Every timeout set to `limit` except [`Timeouts::send_body`]: handy for tests against a local
    /// server that should answer at once.
    pub fn uniform(limit: Duration) -> Self {
        Self {
            connect: Some(limit),
            send_stall: Some(limit),
            send_body: None,
            recv_response: Some(limit),
            recv_body: Some(limit),
        }
    }
}

/// Default bound of a reply body held in memory (1 MiB): replies are upload tokens, status
/// headers and small JSON documents, so anything larger is a broken or hostile server.
pub const DEFAULT_MAX_REPLY_BYTES: u64 = 1024 * 1024;

/// Default size of the buffer chunk bytes pass through on their way to the socket (256 KiB): the
/// only buffer an upload uses, whatever the chunk or file size.
pub const DEFAULT_IO_BUFFER: usize = 256 * 1024;
