//! The one thing an executor has to provide: send a request, and sleep until a deadline.

use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

/// Replies larger than this are refused by the transports of this crate, so that a hostile or broken
/// server cannot make the driver buffer without bound. The largest legitimate reply (a
/// `mediaItems:batchCreate` result for 50 items) is a few tens of kilobytes.
pub const MAX_RESPONSE_BODY: usize = 4 * 1024 * 1024;

/// An HTTP client and a timer, as the drivers need them.
///
/// The request body is the exact bytes to send: the driver has already read the chunk from the
/// source into a buffer it reuses, so a transport never sees more than one chunk of a file.
/// The request carries `Content-Length` and, where the origin policy allows it, `Authorization`.
///
/// # Contract
/// - Resolve to `Ok` with any reply the server sent, whatever its status: the machines decide what a
///   503 or a 404 means. Return `Err` only when no complete reply arrived (refused connection, reset,
///   timeout, a body over [`MAX_RESPONSE_BODY`]); the machine then asks the server where it stands.
/// - Bound the reply body (at most [`MAX_RESPONSE_BODY`] is a good choice) and, in a real client,
///   the time a request may take, or a stalled server stalls the upload.
/// - Never log the `Authorization` header or the URL: a session URL is a capability.
/// - Dropping the future of [`Transport::send`] abandons the request; that must be safe.
///
/// # Send bounds
/// The returned futures carry no `Send` bound, so that single-threaded clients (a browser `fetch`,
/// a thread-per-core runtime, a hand-rolled executor) can implement the trait. A driver future is
/// still `Send` whenever the concrete transport's futures are (auto traits see through the concrete
/// type), so `tokio::spawn(driver.upload(..))` works with `HyperTransport` (feature `hyper`);
/// only code that is generic over `T: Transport` and needs `Send` must name a concrete transport.
pub trait Transport {
    /// Why a request got no reply. Its `Display` is shown to users (inside
    /// [`gphotos_upload::Error::RetriesExhausted`]), so it must not contain URLs or tokens.
    type Error: std::error::Error;

    /// Sends `request` and collects the whole (bounded) reply.
    fn send(
        &self,
        request: http::Request<&[u8]>,
    ) -> impl Future<Output = Result<http::Response<Vec<u8>>, Self::Error>>;

    /// Completes at `deadline` (at once if it has passed).
    fn sleep_until(&self, deadline: Instant) -> impl Future<Output = ()>;

    /// Whether `error` proves that not one byte of the request left (the connection could not be
    /// opened). Calls that must not be repeated blindly (`batchCreate`) are retried only then. When
    /// unsure, say `false`: the default.
    fn never_sent(error: &Self::Error) -> bool {
        let _ = error;
        false
    }
}

impl<T: Transport + ?Sized> Transport for &T {
    type Error = T::Error;

    fn send(
        &self,
        request: http::Request<&[u8]>,
    ) -> impl Future<Output = Result<http::Response<Vec<u8>>, Self::Error>> {
        (**self).send(request)
    }

    fn sleep_until(&self, deadline: Instant) -> impl Future<Output = ()> {
        (**self).sleep_until(deadline)
    }

    fn never_sent(error: &Self::Error) -> bool {
        T::never_sent(error)
    }
}

/// A shared transport, for drivers spawned as separate tasks.
impl<T: Transport + ?Sized> Transport for Arc<T> {
    type Error = T::Error;

    fn send(
        &self,
        request: http::Request<&[u8]>,
    ) -> impl Future<Output = Result<http::Response<Vec<u8>>, Self::Error>> {
        (**self).send(request)
    }

    fn sleep_until(&self, deadline: Instant) -> impl Future<Output = ()> {
        (**self).sleep_until(deadline)
    }

    fn never_sent(error: &Self::Error) -> bool {
        T::never_sent(error)
    }
}
