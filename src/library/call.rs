//! The machine that runs one Library call under the retry rules.

use std::fmt;
use std::time::{Duration, Instant};

use http::{Request, Response, StatusCode};
use serde::{Deserialize, Serialize};

use super::LibraryError;
use crate::retry::{self, Backoff, RetryPolicy, Verdict};
use crate::upload::protocol;
use crate::{Endpoint, Misuse, Payload, RequestId, Transmit};

/// Whether a call may be sent again when the server may already have acted on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resend {
    /// Repeating it changes nothing that matters (a read, or an upload whose extra token simply
    /// expires): retried after transport errors, 408 and 5xx too.
    Safe,
    /// Repeating it may act twice (create a second album, for example): re-sent only when the server
    /// surely did not act (401, 429, a request that never left). Any other doubt ends the call with
    /// [`CallAction::Ambiguous`].
    OnlyIfUnprocessed,
}

/// One kind of Library call: how its request is built and its reply read. The [`Call`] machine
/// makes every retry decision; implementations only describe the wire format.
pub trait LibraryRequest {
    /// What a successful call yields.
    type Output: Clone + PartialEq + fmt::Debug;

    /// Whether the call may be repeated when its effect is unknown.
    fn resend(&self) -> Resend;

    /// The request, without `Authorization` (the adapter adds it when [`Transmit::bearer`] says so).
    fn to_request(&self, endpoint: &Endpoint) -> Request<Payload>;

    /// Reads a 2xx reply.
    ///
    /// # Errors
    /// A description of what is wrong with the reply (never its content, which may hold tokens).
    fn parse_reply(&self, status: StatusCode, body: &[u8]) -> Result<Self::Output, String>;

    /// Turns a refusal (a 4xx other than 401 and 429) into a result, when the refusal itself
    /// answers the question the call asked. `message` is the server's explanation, already scrubbed.
    fn parse_refusal(&self, status: StatusCode, message: &str) -> Option<Self::Output> {
        let _ = (status, message);
        None
    }

    /// Removes any secret the request carries (upload tokens) from a text the server sent back.
    fn scrub(&self, text: String) -> String {
        text
    }
}

/// The server may or may not have acted on a call that must not be repeated blindly.
///
/// Record it and resolve it: for `batchCreate`, re-send the same items with
/// [`super::BatchCreate::after_ambiguous`] (upload tokens are single-use, so that can never
/// duplicate an item); for `albums.create`, look for the album before creating another; a
/// `batchAddMediaItems` can be re-sent (adding an item that is already in the album again changes
/// nothing visible, but it is left to the caller to decide).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ambiguity {
    /// What happened: the transport error, or the status that left the outcome unknown.
    pub cause: String,
}

impl fmt::Display for Ambiguity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the call may or may not have taken effect ({}); it was not repeated, so that nothing is created twice",
            self.cause
        )
    }
}

/// What the adapter should do next.
// `Send` dominates and moves straight into I/O; boxing it would allocate for every request.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, PartialEq)]
pub enum CallAction<T> {
    /// Perform this request and hand back its reply or transport error.
    Send(Transmit),
    /// Nothing to do before this instant (a backoff); poll again then.
    WaitUntil(Instant),
    /// A request is in flight: hand back its outcome first.
    AwaitReply,
    /// The access token was refused: refresh it, then call [`Call::token_refreshed`].
    RefreshToken,
    /// Finished with the call's result.
    Done(T),
    /// Finished without success; the server did not act (or the call is safe to repeat).
    Failed(LibraryError),
    /// Finished without knowing whether the server acted; see [`Ambiguity`].
    Ambiguous(Ambiguity),
}

#[derive(Debug, Clone, PartialEq)]
enum Step<T> {
    Ready,
    Waiting(Instant),
    NeedToken,
    InFlight(RequestId),
    Done(T),
    Failed(LibraryError),
    Ambiguous(Ambiguity),
}

/// Runs one Library call: sends it, retries what the rules allow, and ends with a result, a typed
/// error or an [`Ambiguity`].
///
/// The rules: 401 refreshes the token once, then fails with [`LibraryError::Unauthorized`]; 429 is
/// retried after at least the policy's throttle floor (30 s) or what `Retry-After` asks; a 429 that
/// names a per-day quota fails with [`LibraryError::DailyQuota`]; 408, 5xx, transport errors and
/// unreadable replies are retried with backoff for calls that are [`Resend::Safe`] and end in
/// [`CallAction::Ambiguous`] for the others; other statuses fail with [`LibraryError::Rejected`].
///
/// ```
/// use std::time::Instant;
/// use gphotos_upload::library::{Call, CallAction, GetMediaItem};
/// use gphotos_upload::{Endpoint, RetryPolicy};
///
/// let now = Instant::now();
/// let mut call = Call::new(Endpoint::google(), GetMediaItem::new("AF1")?, RetryPolicy::default(), 1);
/// let CallAction::Send(transmit) = call.poll_action(now) else { unreachable!() };
/// let reply = http::Response::builder().status(200).body(br#"{"id":"AF1"}"#.to_vec())?;
/// call.handle_response(now, transmit.id, &reply)?;
/// let CallAction::Done(item) = call.poll_action(now) else { unreachable!() };
/// assert_eq!(item.id, "AF1");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Call<R: LibraryRequest> {
    endpoint: Endpoint,
    request: R,
    policy: RetryPolicy,
    backoff: Backoff,
    step: Step<R::Output>,
    next_id: u64,
    sent: u32,
    auth_failures: u32,
}

impl<R: LibraryRequest> Call<R> {
    /// A call of `request` to the API at `endpoint`; `seed` drives the retry jitter (give each call
    /// its own so that parallel retries spread out).
    pub fn new(endpoint: Endpoint, request: R, policy: RetryPolicy, seed: u64) -> Self {
        Self {
            endpoint,
            request,
            policy,
            backoff: Backoff::new(seed),
            step: Step::Ready,
            next_id: 0,
            sent: 0,
            auth_failures: 0,
        }
    }

    /// The next thing to do, at time `now`.
    pub fn poll_action(&mut self, now: Instant) -> CallAction<R::Output> {
        loop {
            match self.step {
                Step::Ready => return CallAction::Send(self.send()),
                Step::Waiting(until) => {
                    if now < until {
                        return CallAction::WaitUntil(until);
                    }
                    self.step = Step::Ready;
                }
                Step::NeedToken => return CallAction::RefreshToken,
                Step::InFlight(_) => return CallAction::AwaitReply,
                Step::Done(ref output) => return CallAction::Done(output.clone()),
                Step::Failed(ref error) => return CallAction::Failed(error.clone()),
                Step::Ambiguous(ref ambiguity) => return CallAction::Ambiguous(ambiguity.clone()),
            }
        }
    }

    /// Hands back the reply to request `id`.
    ///
    /// # Errors
    /// [`Misuse::UnexpectedReply`] when `id` is not the request in flight; the machine is unchanged.
    pub fn handle_response<B: AsRef<[u8]>>(
        &mut self,
        now: Instant,
        id: RequestId,
        response: &Response<B>,
    ) -> Result<(), Misuse> {
        self.take_in_flight(id)?;
        self.step = self.on_reply(
            now,
            response.status(),
            response.headers(),
            response.body().as_ref(),
        );
        Ok(())
    }

    /// Reports that request `id` failed in transport after it may have left: a reset, a timeout, a
    /// connection closed before the reply. The server may have acted on it.
    ///
    /// # Errors
    /// [`Misuse::UnexpectedReply`] when `id` is not the request in flight; the machine is unchanged.
    pub fn handle_transport_error(
        &mut self,
        now: Instant,
        id: RequestId,
        error: &dyn fmt::Display,
    ) -> Result<(), Misuse> {
        self.take_in_flight(id)?;
        self.step = self.unknown_outcome(now, format!("transport error: {error}"), None);
        Ok(())
    }

    /// Reports that request `id` never left: the connection could not be opened (refused, no route,
    /// name not resolved), so not one byte of it was written. Such a request is retried even when
    /// it must not be repeated blindly. Only call this when that is certain; otherwise use
    /// [`Call::handle_transport_error`].
    ///
    /// # Errors
    /// [`Misuse::UnexpectedReply`] when `id` is not the request in flight; the machine is unchanged.
    pub fn handle_unsent(
        &mut self,
        now: Instant,
        id: RequestId,
        error: &dyn fmt::Display,
    ) -> Result<(), Misuse> {
        self.take_in_flight(id)?;
        self.step = self.retry(now, false, None, format!("not sent: {error}"));
        Ok(())
    }

    /// Reports that a fresh access token is in place after [`CallAction::RefreshToken`].
    pub fn token_refreshed(&mut self) {
        if matches!(self.step, Step::NeedToken) {
            self.step = Step::Ready;
        }
    }

    /// The call being run.
    pub fn request(&self) -> &R {
        &self.request
    }

    /// Gives back the call, for example to resolve an ambiguous `batchCreate`.
    pub fn into_request(self) -> R {
        self.request
    }

    /// Requests sent so far.
    pub fn requests_sent(&self) -> u32 {
        self.sent
    }

    /// Whether the call has ended (done, failed or ambiguous).
    pub fn is_finished(&self) -> bool {
        matches!(
            self.step,
            Step::Done(_) | Step::Failed(_) | Step::Ambiguous(_)
        )
    }

    fn take_in_flight(&mut self, id: RequestId) -> Result<(), Misuse> {
        match self.step {
            Step::InFlight(current) if current == id => Ok(()),
            _ => Err(Misuse::UnexpectedReply { id }),
        }
    }

    fn send(&mut self) -> Transmit {
        let id = RequestId(self.next_id);
        self.next_id += 1;
        self.sent = self.sent.saturating_add(1);
        let request = self.request.to_request(&self.endpoint);
        let bearer = self.endpoint.may_carry_token(request.uri());
        self.step = Step::InFlight(id);
        Transmit {
            id,
            request,
            bearer,
        }
    }

    fn on_reply(
        &mut self,
        now: Instant,
        status: StatusCode,
        headers: &http::HeaderMap,
        body: &[u8],
    ) -> Step<R::Output> {
        if status.is_success() {
            return match self.request.parse_reply(status, body) {
                Ok(output) => Step::Done(output),
                Err(detail) => {
                    let cause = format!(
                        "HTTP {} with an unreadable reply: {detail}",
                        status.as_u16()
                    );
                    self.unknown_outcome(now, cause, None)
                }
            };
        }
        let what = format!("HTTP {}", status.as_u16());
        match retry::classify(status, body) {
            // The server turned the request away before acting on it: safe to send again.
            Verdict::Transient { throttled: true } => {
                self.retry(now, true, retry::retry_after(headers), what)
            }
            Verdict::Transient { throttled: false } => {
                self.unknown_outcome(now, what, retry::retry_after(headers))
            }
            Verdict::DailyQuota => Step::Failed(LibraryError::DailyQuota),
            Verdict::Unauthorized => {
                self.auth_failures += 1;
                if self.auth_failures > 1 {
                    Step::Failed(LibraryError::Unauthorized)
                } else {
                    Step::NeedToken
                }
            }
            Verdict::Success | Verdict::Permanent => {
                let message = self.request.scrub(protocol::error_message(body));
                match self.request.parse_refusal(status, &message) {
                    Some(output) => Step::Done(output),
                    None => Step::Failed(LibraryError::Rejected {
                        status: status.as_u16(),
                        message,
                    }),
                }
            }
        }
    }

    /// The server may have acted: retry what is safe to repeat, stop the rest.
    fn unknown_outcome(
        &mut self,
        now: Instant,
        cause: String,
        asked: Option<Duration>,
    ) -> Step<R::Output> {
        match self.request.resend() {
            Resend::Safe => self.retry(now, false, asked, cause),
            Resend::OnlyIfUnprocessed => Step::Ambiguous(Ambiguity { cause }),
        }
    }

    fn retry(
        &mut self,
        now: Instant,
        throttled: bool,
        asked: Option<Duration>,
        what: String,
    ) -> Step<R::Output> {
        match self.backoff.fail(&self.policy, now, throttled, asked) {
            Some(until) => Step::Waiting(until),
            None => Step::Failed(LibraryError::RetriesExhausted {
                attempts: self.backoff.attempts(),
                last: what,
            }),
        }
    }
}

impl<R: LibraryRequest + fmt::Debug> fmt::Debug for Call<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Call")
            .field("request", &self.request)
            .field("step", &self.step)
            .field("requests_sent", &self.sent)
            .finish_non_exhaustive()
    }
}
