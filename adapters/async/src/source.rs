//! Where the bytes of a file come from: read one frame at a time, at the offset the machine names.

use std::future::Future;
use std::io::{self, Read, Seek, SeekFrom};

use futures_io::{AsyncRead, AsyncSeek};
use futures_util::io::{AsyncReadExt, AsyncSeekExt};

use crate::Frame;

/// Random access to the bytes of one file.
///
/// The driver asks for the bytes of a chunk one frame at a time (at most [`crate::FRAME_SIZE`]),
/// as the transport sends them, straight into the frame the transport then writes: memory stays
/// at a few frames per upload in progress, however large the chunk or the file.
pub trait Source {
    /// Fills `buf` with the bytes at `offset .. offset + buf.len()`.
    ///
    /// # Errors
    /// The I/O error; `UnexpectedEof` when the file is shorter than it was when the upload began
    /// (it changed under us).
    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> impl Future<Output = io::Result<()>>;

    /// Fills all of `frame` with the bytes at `offset .. offset + frame.len()` and gives it back.
    ///
    /// The driver calls this one; the default fills the frame through [`Source::read_at`]. A source
    /// that reads on another thread (a blocking pool) overrides it to move the owned frame there
    /// and back, so that the bytes still land in the frame directly rather than in a buffer of its
    /// own.
    ///
    /// # Errors
    /// As [`Source::read_at`]. The frame is dropped (back to its pool) with the error.
    fn read_frame(
        &mut self,
        offset: u64,
        mut frame: Frame,
    ) -> impl Future<Output = io::Result<Frame>> {
        async move {
            self.read_at(offset, frame.as_mut_slice()).await?;
            Ok(frame)
        }
    }
}

impl<S: Source + ?Sized> Source for &mut S {
    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> impl Future<Output = io::Result<()>> {
        (**self).read_at(offset, buf)
    }

    fn read_frame(&mut self, offset: u64, frame: Frame) -> impl Future<Output = io::Result<Frame>> {
        (**self).read_frame(offset, frame)
    }
}

/// A blocking source (`std::fs::File`, `std::io::Cursor`) read inline.
///
/// A read blocks the executor thread for the time one frame takes to come off the disk. That is
/// fine for a hand-rolled executor or a local disk; on a shared runtime prefer an async source
/// ([`AsyncSource`], or `TokioSource` with the `hyper` feature).
#[derive(Debug)]
pub struct BlockingSource<R>(pub R);

impl<R: Read + Seek> Source for BlockingSource<R> {
    async fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        self.0.seek(SeekFrom::Start(offset))?;
        self.0.read_exact(buf).map_err(explain_eof)
    }
}

/// An async source implementing the `futures-io` traits (`async-std`, `smol`, `blocking::Unblock`,
/// or tokio's files through `tokio-util`'s compat layer).
#[derive(Debug)]
pub struct AsyncSource<R>(pub R);

impl<R: AsyncRead + AsyncSeek + Unpin> Source for AsyncSource<R> {
    async fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        self.0.seek(SeekFrom::Start(offset)).await?;
        self.0.read_exact(buf).await.map_err(explain_eof)
    }
}

/// Says what a short read means here: the file shrank since its size was taken.
pub(crate) fn explain_eof(error: io::Error) -> io::Error {
    if error.kind() == io::ErrorKind::UnexpectedEof {
        io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "the file is shorter than when the upload began (it changed on disk); \
             start a new upload of the file as it is now",
        )
    } else {
        error
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    fn ready<F: Future>(future: F) -> F::Output {
        // These sources never wait, so a single poll completes them.
        let waker = std::task::Waker::noop();
        let mut context = std::task::Context::from_waker(waker);
        let mut future = std::pin::pin!(future);
        match future.as_mut().poll(&mut context) {
            std::task::Poll::Ready(output) => output,
            std::task::Poll::Pending => panic!("an in-memory source never waits"),
        }
    }

    #[test]
    fn reads_the_named_range() {
        let data: Vec<u8> = (0..=255).collect();
        let mut blocking = BlockingSource(Cursor::new(data.clone()));
        let mut async_source = AsyncSource(futures_util::io::Cursor::new(data));
        let mut buf = [0u8; 4];
        ready(blocking.read_at(10, &mut buf)).unwrap();
        assert_eq!(buf, [10, 11, 12, 13]);
        ready(async_source.read_at(250, &mut buf)).unwrap();
        assert_eq!(buf, [250, 251, 252, 253]);
    }

    #[test]
    fn a_shrunken_file_is_an_explained_error() {
        let mut source = BlockingSource(Cursor::new(vec![0u8; 8]));
        let mut buf = [0u8; 4];
        let error = ready(source.read_at(6, &mut buf)).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::UnexpectedEof);
        assert!(error.to_string().contains("changed on disk"), "{error}");
    }
}
