//! The drivers: loops that ask a machine for its next action, perform it, and feed back the outcome.
//! Every decision (chunking, retry, resume, finalize) stays in the machine.

use std::io;
use std::num::NonZeroUsize;
use std::time::Instant;

use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use gphotos_upload::library::{Call, CallAction, LibraryRequest};
use gphotos_upload::{AccessToken, Action, Transmit, Upload, UploadToken};

use crate::body::{BodyOutcome, RequestBody};
use crate::frame::Frames;
use crate::in_flight::{InFlight, Machine};
use crate::{Authorizer, DriveError, Source, Transport};

/// Runs the core's machines over a [`Transport`], with tokens from an [`Authorizer`].
///
/// Cheap to share: every method takes `&self`, so one driver serves any number of uploads at once.
#[derive(Debug, Clone)]
pub struct Driver<T, A> {
    pub(crate) transport: T,
    pub(crate) auth: A,
}

/// What a request carried, for the refresh that may follow it.
type SentToken = Option<AccessToken>;

impl<T: Transport, A: Authorizer> Driver<T, A> {
    /// A driver sending over `transport` with tokens from `auth`.
    pub fn new(transport: T, auth: A) -> Self {
        Self { transport, auth }
    }

    /// The transport.
    pub fn transport(&self) -> &T {
        &self.transport
    }

    /// The authorizer.
    pub fn authorizer(&self) -> &A {
        &self.auth
    }

    /// Uploads one file and returns its upload token (for `mediaItems:batchCreate`).
    ///
    /// The caller keeps the machine, so nothing is lost when this returns an error or its future is
    /// dropped, even in the middle of a chunk: the machine then counts the request as interrupted,
    /// and calling `upload` again (or restoring a serde snapshot of the machine in a new process)
    /// asks the server how much it holds and carries on from there. A finished machine returns its
    /// token again without any request.
    ///
    /// Memory: the few frames ([`crate::FRAME_SIZE`] each) the transport holds at once, whatever
    /// the chunk and file sizes: a chunk is read frame by frame as the transport sends it.
    ///
    /// # Errors
    /// [`DriveError`]: the machine's own failure, a source that cannot be read, no usable token.
    pub async fn upload<S: Source>(
        &self,
        upload: &mut Upload,
        source: S,
    ) -> Result<UploadToken, DriveError> {
        self.upload_with_frames(upload, source, &Frames::default())
            .await
    }

    /// Uploads many files, at most `concurrency` at a time, and returns one result per file in the
    /// order given.
    ///
    /// `files` is pulled only when a slot frees up, so a lazily opened source (or a `map` that opens
    /// each file) keeps at most `concurrency` files open. All uploads run inside this one future, so
    /// any executor works and nothing is spawned; with a transport whose I/O proceeds in the
    /// background (hyper's connection tasks, or a thread per request) they overlap on the network.
    /// Memory: the frames of `concurrency` requests in flight, reused from file to file.
    ///
    /// Each file's outcome is independent: a failure of one does not stop the others. Dropping the
    /// future leaves every machine resumable, as with [`Driver::upload`].
    pub async fn upload_many<'m, I, S>(
        &self,
        files: I,
        concurrency: NonZeroUsize,
    ) -> Vec<Result<UploadToken, DriveError>>
    where
        I: IntoIterator<Item = (&'m mut Upload, S)>,
        S: Source,
    {
        let mut files = files.into_iter().enumerate();
        let mut results = Vec::new();
        let mut pools: Vec<Frames> = Vec::new();
        let mut running = FuturesUnordered::new();
        loop {
            while running.len() < concurrency.get() {
                let Some((index, (upload, source))) = files.next() else {
                    break;
                };
                let frames = pools.pop().unwrap_or_default();
                running.push(async move {
                    let result = self.upload_with_frames(upload, source, &frames).await;
                    (index, result, frames)
                });
            }
            let Some((index, result, frames)) = running.next().await else {
                break;
            };
            pools.push(frames);
            if results.len() <= index {
                results.resize_with(index + 1, || None);
            }
            results[index] = Some(result);
        }
        // Every file pulled was pushed and every pushed upload returned, so no slot is empty.
        debug_assert!(results.iter().all(Option::is_some), "one result per file");
        results.into_iter().flatten().collect()
    }

    async fn upload_with_frames<S: Source>(
        &self,
        upload: &mut Upload,
        mut source: S,
        frames: &Frames,
    ) -> Result<UploadToken, DriveError> {
        let mut sent: SentToken = None;
        loop {
            // Asked before the machine commits to a request, so that a failure leaves it untouched.
            let token = self.auth.token().await.map_err(DriveError::Auth)?;
            match upload.poll_action(Instant::now()) {
                Action::Send(transmit) => {
                    self.exchange(upload, transmit, token.as_ref(), &mut source, frames)
                        .await?;
                    sent = token;
                }
                Action::WaitUntil(deadline) => self.transport.sleep_until(deadline).await,
                Action::RefreshToken => {
                    self.auth
                        .refresh(sent.as_ref())
                        .await
                        .map_err(DriveError::Auth)?;
                    upload.token_refreshed();
                }
                Action::AwaitReply => return Err(DriveError::ForeignRequestInFlight),
                Action::Done(token) => return Ok(token),
                Action::Failed(error) => return Err(DriveError::Upload(error)),
            }
        }
    }

    /// Runs one Library call (`batchCreate`, `mediaItems.get`, `albums.create`,
    /// `albums:batchAddMediaItems`) to its end and returns its result. The machine decides every
    /// retry; a call that must not repeat blindly ends in [`DriveError::Ambiguous`] when its effect
    /// is unknown, including when this future is dropped while its request is in flight. Run
    /// `batchCreate` calls one at a time per user.
    ///
    /// # Errors
    /// [`DriveError::Library`], [`DriveError::Ambiguous`], [`DriveError::Auth`].
    pub async fn call<R: LibraryRequest>(
        &self,
        call: &mut Call<R>,
    ) -> Result<R::Output, DriveError> {
        self.call_with_source(call, NoSource).await
    }

    /// [`Driver::call`] for a call that sends file bytes: the simple (raw) upload of a small file,
    /// streamed from `source` frame by frame.
    ///
    /// # Errors
    /// As [`Driver::call`], and [`DriveError::Source`] when the file cannot be read.
    pub async fn call_with_source<R: LibraryRequest, S: Source>(
        &self,
        call: &mut Call<R>,
        mut source: S,
    ) -> Result<R::Output, DriveError> {
        let frames = Frames::default();
        let mut sent: SentToken = None;
        loop {
            let token = self.auth.token().await.map_err(DriveError::Auth)?;
            match call.poll_action(Instant::now()) {
                CallAction::Send(transmit) => {
                    self.exchange(call, transmit, token.as_ref(), &mut source, &frames)
                        .await?;
                    sent = token;
                }
                CallAction::WaitUntil(deadline) => self.transport.sleep_until(deadline).await,
                CallAction::RefreshToken => {
                    self.auth
                        .refresh(sent.as_ref())
                        .await
                        .map_err(DriveError::Auth)?;
                    call.token_refreshed();
                }
                CallAction::AwaitReply => return Err(DriveError::ForeignRequestInFlight),
                CallAction::Done(output) => return Ok(output),
                CallAction::Failed(error) => return Err(DriveError::Library(error)),
                CallAction::Ambiguous(ambiguity) => return Err(DriveError::Ambiguous(ambiguity)),
            }
        }
    }

    /// Performs one request of `machine` and feeds the outcome back.
    async fn exchange<M: Machine, S: Source>(
        &self,
        machine: &mut M,
        transmit: Transmit,
        token: Option<&AccessToken>,
        source: &mut S,
        frames: &Frames,
    ) -> Result<(), DriveError> {
        let in_flight = InFlight::new(machine, transmit.id);
        let (parts, payload) = transmit.authorize(token).into_parts();
        let mut body = BodyOutcome::default();
        let sent = self
            .transport
            .send(http::Request::from_parts(
                parts,
                RequestBody::new(payload, Some(source), frames, &mut body),
            ))
            .await;
        if let Some(error) = body.failure {
            // Whatever the transport made of it, the server never got the whole body, so a reply
            // (if any) is not an answer to this request. The file will not read better on a
            // retry: stop here.
            in_flight.no_reply(
                &format_args!("could not read the file: {error}"),
                !body.handed_out,
            );
            return Err(DriveError::Source(error));
        }
        match sent {
            Ok(response) => in_flight.reply(&response),
            Err(error) => in_flight.no_reply(&error, T::never_sent(&error)),
        }
        Ok(())
    }
}

/// The source of a call that sends no file bytes.
struct NoSource;

impl Source for NoSource {
    async fn read_at(&mut self, _offset: u64, _buf: &mut [u8]) -> io::Result<()> {
        Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "this call sends file bytes: run it with `Driver::call_with_source`",
        ))
    }
}
