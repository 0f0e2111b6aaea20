//! The one thing an executor has to provide: send a request, and sleep until a deadline.

use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use crate::Body;

/// Replies larger than this are refused by the transports of this crate, so that a hostile or broken
/// server cannot make the driver buffer without bound. The largest legitimate reply (a
/// `mediaItems:batchCreate` result for 50 items) is a few tens of kilobytes.
pub const MAX_RESPONSE_BODY: usize = 4 * 1024 * 1024;

/// An HTTP client and a timer, as the drivers need them.
///
/// The request carries `Content-Length` (equal to [`Body::len`]) and, where the origin policy
/// allows it, `Authorization`. Its body is a [`Body`] the transport pulls frame by frame: file
/// bytes are read from the source only when the transport asks for the next frame, straight into
/// that [`crate::Frame`], which the transport writes as it is (or hands to its own I/O task: frames
/// are owned and `Send`). So each byte of a file is copied once on its way to the socket, and an
/// upload holds the few frames its transport keeps at once rather than a chunk of several MiB.
/// Pull the next frame only when the previous ones have (mostly) been written: that keeps memory
/// flat. Frames are at most [`crate::FRAME_SIZE`] bytes.
///
/// # Contract
/// - Resolve to `Ok` with any reply the server sent, whatever its status: the machines decide what a
///   503 or a 404 means. Return `Err` only when no complete reply arrived (refused connection, reset,
///   timeout, a body over [`MAX_RESPONSE_BODY`]); the machine then asks the server where it stands.
/// - When [`Body::next_frame`] fails, abandon the request without completing its body (close the
///   connection) and return `Err`. Never send fewer bytes than `Content-Length` as if complete. The
///   driver reports the source's error for such a request, whatever the transport returns.
/// - A reply that arrives before the body is complete (a refusal) is still the reply: return it.
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

    /// Sends `request`, streaming its body frame by frame, and collects the whole (bounded) reply.
    fn send<B: Body>(
        &self,
        request: http::Request<B>,
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

    fn send<B: Body>(
        &self,
        request: http::Request<B>,
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

    fn send<B: Body>(
        &self,
        request: http::Request<B>,
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
