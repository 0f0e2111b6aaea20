//! Keeps a machine consistent when a driver future is dropped while its request is in flight.

use std::fmt;
use std::time::Instant;

use gphotos_upload::library::{Call, LibraryRequest};
use gphotos_upload::{RequestId, Upload};

/// A machine that takes back the outcome of its requests.
pub(crate) trait Machine {
    /// Hands back the reply to `id`.
    fn reply(&mut self, now: Instant, id: RequestId, response: &http::Response<Vec<u8>>);
    /// Reports that `id` got no reply; `unsent` when not one byte of it left.
    fn no_reply(&mut self, now: Instant, id: RequestId, error: &dyn fmt::Display, unsent: bool);
}

// The driver hands back exactly the request it just sent, so the machines cannot refuse the
// outcome; their `Misuse` results are checked in debug builds only.

impl Machine for Upload {
    fn reply(&mut self, now: Instant, id: RequestId, response: &http::Response<Vec<u8>>) {
        let accepted = self.handle_response(now, id, response);
        debug_assert!(accepted.is_ok(), "the driver hands back its own request");
    }

    fn no_reply(&mut self, now: Instant, id: RequestId, error: &dyn fmt::Display, _: bool) {
        // An upload always asks the server where it stands after a failure: sent or not is moot.
        let accepted = self.handle_transport_error(now, id, error);
        debug_assert!(accepted.is_ok(), "the driver hands back its own request");
    }
}

impl<R: LibraryRequest> Machine for Call<R> {
    fn reply(&mut self, now: Instant, id: RequestId, response: &http::Response<Vec<u8>>) {
        let accepted = self.handle_response(now, id, response);
        debug_assert!(accepted.is_ok(), "the driver hands back its own request");
    }

    fn no_reply(&mut self, now: Instant, id: RequestId, error: &dyn fmt::Display, unsent: bool) {
        let accepted = if unsent {
            self.handle_unsent(now, id, error)
        } else {
            self.handle_transport_error(now, id, error)
        };
        debug_assert!(accepted.is_ok(), "the driver hands back its own request");
    }
}

/// The outcome of a request that is still pending. If it is dropped unsettled (the driver future was
/// dropped mid-request) the machine hears that the request got no reply: whether its bytes arrived
/// is unknown, so an upload asks the server before sending more, and a call that must not repeat
/// ends as ambiguous. Without this, a machine kept by the caller would wait forever for a reply
/// nobody delivers.
pub(crate) struct InFlight<'m, M: Machine> {
    machine: &'m mut M,
    id: RequestId,
    settled: bool,
}

impl<'m, M: Machine> InFlight<'m, M> {
    pub(crate) fn new(machine: &'m mut M, id: RequestId) -> Self {
        Self {
            machine,
            id,
            settled: false,
        }
    }

    pub(crate) fn reply(mut self, response: &http::Response<Vec<u8>>) {
        self.settled = true;
        self.machine.reply(Instant::now(), self.id, response);
    }

    pub(crate) fn no_reply(mut self, error: &dyn fmt::Display, unsent: bool) {
        self.settled = true;
        self.machine
            .no_reply(Instant::now(), self.id, error, unsent);
    }
}

impl<M: Machine> Drop for InFlight<'_, M> {
    fn drop(&mut self) {
        if !self.settled {
            self.machine.no_reply(
                Instant::now(),
                self.id,
                &"the request was abandoned mid-flight",
                false,
            );
        }
    }
}
