//! Request bodies as the drivers hand them to a [`crate::Transport`]: a known length, and frames
//! pulled one at a time, read from the source only when the transport asks for them.

use std::future::Future;
use std::io;

use gphotos_upload::Payload;

use crate::frame::{FRAME_SIZE, Frame, Frames};
use crate::source::Source;

/// The body of a request, pulled frame by frame by the [`crate::Transport`] that sends it.
///
/// [`Body::len`] is the exact number of bytes the frames add up to, and the request's
/// `Content-Length`. The driver's bodies read file bytes only when [`Body::next_frame`] is called,
/// straight into the frame the transport then sends: one copy from the file, and memory bounded by
/// the frames the transport holds at once, whatever the chunk size.
///
/// # For transports
/// - Call [`Body::next_frame`] until it returns `Ok(None)`; write each frame as it is.
/// - An `Err` means the source failed (a read error, or a file that shrank): the body cannot be
///   completed. Abandon the request without completing it (close the connection; never pad or
///   send a short body as if it were whole) and resolve [`crate::Transport::send`] to an `Err`.
///   The driver reports the source's error, not the transport's, and never takes a reply to such a
///   request for the server's answer.
/// - A transport may stop pulling early, for example when the server answers before the body is
///   complete (a refusal); that answer is a real reply.
/// - Dropping a `next_frame` future drops the frame being read; the body does not advance, so a
///   later call reads the same frame again.
pub trait Body {
    /// The number of bytes in the body.
    fn len(&self) -> u64;

    /// Whether the body has no bytes at all (a request without a body).
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The next frame, `Ok(None)` once every byte was handed out. Frames are at most
    /// [`FRAME_SIZE`] bytes long, except a body held in memory, which comes in one frame.
    ///
    /// # Errors
    /// The source's error; the request must then be abandoned (see the trait's documentation).
    fn next_frame(&mut self) -> impl Future<Output = io::Result<Option<Frame>>>;
}

impl<B: Body + ?Sized> Body for &mut B {
    fn len(&self) -> u64 {
        (**self).len()
    }

    fn next_frame(&mut self) -> impl Future<Output = io::Result<Option<Frame>>> {
        (**self).next_frame()
    }
}

/// What became of a body inside the transport, for the driver to read once `send` has returned.
#[derive(Debug, Default)]
pub(crate) struct BodyOutcome {
    /// The source's error, if reading a frame failed.
    pub(crate) failure: Option<io::Error>,
    /// Whether any frame was handed to the transport (so bytes may have left).
    pub(crate) handed_out: bool,
}

/// A body of bytes already in memory (JSON, a form, or nothing), handed out as one frame without
/// a copy. The drivers use it for the bodies the machines build; use it to send a request of your
/// own over a [`crate::Transport`].
#[derive(Debug)]
pub struct InMemory {
    frame: Option<Frame>,
    len: u64,
}

impl InMemory {
    /// A body of `bytes`.
    pub fn new(bytes: Vec<u8>) -> Self {
        Self {
            len: bytes.len() as u64,
            frame: (!bytes.is_empty()).then(|| Frame::from(bytes)),
        }
    }

    /// No body at all (`Content-Length: 0`).
    pub fn empty() -> Self {
        Self::new(Vec::new())
    }
}

impl Body for InMemory {
    fn len(&self) -> u64 {
        self.len
    }

    async fn next_frame(&mut self) -> io::Result<Option<Frame>> {
        Ok(self.frame.take())
    }
}

/// The body of a request as the machine described it: nothing, its own bytes, or a range of the
/// source read frame by frame.
pub(crate) struct RequestBody<'a, S> {
    kind: Kind<'a, S>,
    len: u64,
    outcome: &'a mut BodyOutcome,
}

enum Kind<'a, S> {
    InMemory(InMemory),
    /// A file range with no file to read it from.
    NoSource,
    Range {
        source: &'a mut S,
        frames: &'a Frames,
        /// The next byte of the source to read.
        next: u64,
        end: u64,
    },
}

impl<'a, S: Source> RequestBody<'a, S> {
    /// The body for `payload`; file bytes come from `source` in frames from `frames`. What happens
    /// to it is recorded in `outcome`.
    pub(crate) fn new(
        payload: Payload,
        source: Option<&'a mut S>,
        frames: &'a Frames,
        outcome: &'a mut BodyOutcome,
    ) -> Self {
        let len = payload.len();
        let kind = match (payload, source) {
            (Payload::Empty, _) => Kind::InMemory(InMemory::empty()),
            (Payload::Bytes(bytes), _) => Kind::InMemory(InMemory::new(bytes)),
            (Payload::Range { .. }, None) => Kind::NoSource,
            (Payload::Range { offset, len }, Some(source)) => Kind::Range {
                source,
                frames,
                next: offset,
                // The machine never names a range past the end of a u64 file.
                end: offset.saturating_add(len),
            },
        };
        Self { kind, len, outcome }
    }
}

impl<S: Source> Body for RequestBody<'_, S> {
    fn len(&self) -> u64 {
        self.len
    }

    async fn next_frame(&mut self) -> io::Result<Option<Frame>> {
        if let Some(failure) = &self.outcome.failure {
            return Err(io::Error::new(failure.kind(), failure.to_string()));
        }
        let frame = match &mut self.kind {
            Kind::InMemory(body) => body.next_frame().await?,
            Kind::NoSource => {
                let error = io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "a request names file bytes but no file was given to read them from",
                );
                return Err(self.fail(error));
            }
            Kind::Range {
                source,
                frames,
                next,
                end,
            } => {
                if *next == *end {
                    return Ok(None);
                }
                // At most FRAME_SIZE, so the cast is exact.
                #[allow(clippy::cast_possible_truncation)]
                let len = (*end - *next).min(FRAME_SIZE as u64) as usize;
                match source.read_frame(*next, frames.frame_for(*next, len)).await {
                    Ok(frame) if frame.len() == len => {
                        *next += len as u64;
                        Some(frame)
                    }
                    Ok(frame) => {
                        let error = io::Error::other(format!(
                            "the source returned {} bytes where {len} were asked for",
                            frame.len()
                        ));
                        return Err(self.fail(error));
                    }
                    Err(error) => return Err(self.fail(error)),
                }
            }
        };
        self.outcome.handed_out |= frame.is_some();
        Ok(frame)
    }
}

impl<S> RequestBody<'_, S> {
    /// Records the source's error for the driver and gives the transport a copy of its message.
    fn fail(&mut self, error: io::Error) -> io::Error {
        let shown = io::Error::new(error.kind(), error.to_string());
        self.outcome.failure = Some(error);
        shown
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::BlockingSource;
    use std::io::Cursor;

    fn ready<F: Future>(future: F) -> F::Output {
        // In-memory sources never wait, so a single poll completes them.
        let mut context = std::task::Context::from_waker(std::task::Waker::noop());
        match std::pin::pin!(future).as_mut().poll(&mut context) {
            std::task::Poll::Ready(output) => output,
            std::task::Poll::Pending => panic!("an in-memory source never waits"),
        }
    }

    fn frames_of<S: Source>(body: &mut RequestBody<'_, S>) -> (Vec<Frame>, io::Result<()>) {
        let mut frames = Vec::new();
        loop {
            match ready(body.next_frame()) {
                Ok(Some(frame)) => frames.push(frame),
                Ok(None) => return (frames, Ok(())),
                Err(error) => return (frames, Err(error)),
            }
        }
    }

    #[test]
    fn a_range_streams_in_frames_that_add_up_to_it() {
        let data: Vec<u8> = (0..3 * FRAME_SIZE + 5000)
            .map(|i| u8::try_from(i % 251).unwrap())
            .collect();
        let mut source = BlockingSource(Cursor::new(data.clone()));
        let pool = Frames::default();
        let mut outcome = BodyOutcome::default();
        let (offset, len) = (4096 + 7, 2 * FRAME_SIZE + 3000);
        let payload = Payload::Range {
            offset: offset as u64,
            len: len as u64,
        };
        let mut body = RequestBody::new(payload, Some(&mut source), &pool, &mut outcome);
        assert_eq!(body.len(), len as u64);
        let (frames, end) = frames_of(&mut body);
        assert!(end.is_ok());
        let sizes: Vec<usize> = frames.iter().map(|f| f.len()).collect();
        assert_eq!(sizes, [FRAME_SIZE, FRAME_SIZE, 3000]);
        let mut at = offset;
        for frame in &frames {
            assert_eq!(&frame[..], &data[at..at + frame.len()]);
            assert_eq!(
                frame.as_ptr().addr() % 4096,
                at % 4096,
                "in step with the file"
            );
            at += frame.len();
        }
        drop(frames);
        assert!(outcome.handed_out && outcome.failure.is_none());
    }

    #[test]
    fn a_source_that_ends_early_fails_the_body_and_says_why() {
        let mut source = BlockingSource(Cursor::new(vec![1u8; FRAME_SIZE + 10]));
        let pool = Frames::default();
        let mut outcome = BodyOutcome::default();
        let payload = Payload::Range {
            offset: 0,
            len: 2 * FRAME_SIZE as u64,
        };
        let mut body = RequestBody::new(payload, Some(&mut source), &pool, &mut outcome);
        let (frames, end) = frames_of(&mut body);
        assert_eq!(frames.len(), 1, "the whole first frame, then the failure");
        let shown = end.unwrap_err();
        assert!(shown.to_string().contains("changed on disk"), "{shown}");
        // Asked again, the body does not pretend to be over.
        assert!(ready(body.next_frame()).is_err());
        let failure = outcome.failure.expect("recorded for the driver");
        assert_eq!(failure.kind(), io::ErrorKind::UnexpectedEof);
        assert!(outcome.handed_out);
    }

    #[test]
    fn bytes_in_memory_go_in_one_frame_and_nothing_in_none() {
        let pool = Frames::default();
        let mut outcome = BodyOutcome::default();
        let json = br#"{"newMediaItems":[]}"#.to_vec();
        let mut body = RequestBody::<BlockingSource<Cursor<Vec<u8>>>>::new(
            Payload::Bytes(json.clone()),
            None,
            &pool,
            &mut outcome,
        );
        assert_eq!(body.len(), json.len() as u64);
        let (frames, end) = frames_of(&mut body);
        assert!(end.is_ok());
        assert_eq!(frames.len(), 1);
        assert_eq!(&frames[0][..], &json[..]);
        let mut empty = InMemory::empty();
        assert!(empty.is_empty());
        assert!(ready(empty.next_frame()).unwrap().is_none());
    }

    #[test]
    fn a_range_without_a_file_fails() {
        let pool = Frames::default();
        let mut outcome = BodyOutcome::default();
        let payload = Payload::Range { offset: 0, len: 10 };
        let mut body =
            RequestBody::<BlockingSource<Cursor<Vec<u8>>>>::new(payload, None, &pool, &mut outcome);
        assert!(ready(body.next_frame()).is_err());
        assert!(outcome.failure.is_some() && !outcome.handed_out);
    }
}
