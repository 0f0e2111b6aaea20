//! The pieces a request body travels in: owned buffers that a transport can keep until its socket
//! has taken them, and that go back to their pool when it drops them.

use std::fmt;
use std::ops::Deref;
use std::sync::{Arc, Mutex};

/// The largest frame a body yields. A chunk of several MiB goes out as a stream of these, so an
/// upload holds a few frames instead of a whole chunk. 256 KiB keeps the per-frame costs (a read,
/// a hand-off, a socket write) small next to the cost of moving the bytes.
pub const FRAME_SIZE: usize = 256 * 1024;

const PAGE: usize = 4096;

/// Idle buffers a pool keeps. A request has at most a few frames alive at once (one being read,
/// one waiting for the transport, a couple queued on the socket); more would only hold memory.
const MAX_IDLE: usize = 4;

/// A piece of a request body: bytes the transport sends as they are.
///
/// A frame owns its memory (`Send + 'static`), so a transport may hand it to another task or
/// thread and drop it there once the bytes are written; with the `hyper` feature it converts into
/// `bytes::Bytes` without copying. Frames of file bytes come from a small pool that takes the
/// buffer back on drop, so streaming a file allocates a few buffers, not one per frame.
pub struct Frame {
    buf: Vec<u8>,
    start: usize,
    len: usize,
    home: Option<Arc<Mutex<Vec<Vec<u8>>>>>,
}

impl Frame {
    /// The bytes of the frame.
    pub fn as_slice(&self) -> &[u8] {
        &self.buf[self.start..self.start + self.len]
    }

    /// The bytes of the frame, to be filled by a [`crate::Source`].
    pub fn as_mut_slice(&mut self) -> &mut [u8] {
        &mut self.buf[self.start..self.start + self.len]
    }
}

impl Deref for Frame {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        self.as_slice()
    }
}

impl AsRef<[u8]> for Frame {
    fn as_ref(&self) -> &[u8] {
        self.as_slice()
    }
}

/// A frame of bytes already in memory (a JSON body), taken over without a copy.
impl From<Vec<u8>> for Frame {
    fn from(buf: Vec<u8>) -> Self {
        Self {
            len: buf.len(),
            buf,
            start: 0,
            home: None,
        }
    }
}

#[cfg(feature = "hyper")]
impl From<Frame> for bytes::Bytes {
    /// Hands the frame's memory to `Bytes` as is; it returns to its pool when the last `Bytes`
    /// referring to it is dropped.
    fn from(frame: Frame) -> Self {
        bytes::Bytes::from_owner(frame)
    }
}

impl fmt::Debug for Frame {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The bytes are file contents (or a JSON body with upload tokens): only the size is shown.
        f.debug_struct("Frame")
            .field("len", &self.len)
            .finish_non_exhaustive()
    }
}

impl Drop for Frame {
    fn drop(&mut self) {
        if let Some(home) = self.home.take()
            && let Ok(mut idle) = home.lock()
            && idle.len() < MAX_IDLE
        {
            idle.push(std::mem::take(&mut self.buf));
        }
    }
}

/// The buffers of one upload slot, reused from frame to frame, chunk to chunk and file to file.
/// Cloning shares the pool.
#[derive(Clone, Default)]
pub(crate) struct Frames {
    idle: Arc<Mutex<Vec<Vec<u8>>>>,
}

impl Frames {
    /// A frame of `len` bytes (at most [`FRAME_SIZE`]) for the file bytes at `offset`.
    ///
    /// The frame starts at an address that equals `offset` modulo the page size. Reading from
    /// the page cache into memory whose position within a page differs from the file offset's
    /// forces the kernel into a misaligned copy that costs about four times the CPU (measured on
    /// the AMD EPYC benchmark machine: 0.65 against 0.15 CPU-seconds per GiB); a large `Vec` from
    /// glibc starts 16 bytes into a page, which is exactly that case. Each buffer has a page to
    /// spare, so the start can be shifted to match whatever offset a chunk (or a resume) begins at.
    pub(crate) fn frame_for(&self, offset: u64, len: usize) -> Frame {
        debug_assert!(len <= FRAME_SIZE, "frames are at most FRAME_SIZE");
        let len = len.min(FRAME_SIZE);
        let buf = self
            .idle
            .lock()
            .ok()
            .and_then(|mut idle| idle.pop())
            .unwrap_or_else(|| vec![0; FRAME_SIZE + PAGE]);
        let address = buf.as_ptr().addr() % PAGE;
        // `offset % PAGE` is below PAGE, so the cast is exact.
        #[allow(clippy::cast_possible_truncation)]
        let wanted = (offset % PAGE as u64) as usize;
        let start = (PAGE - address + wanted) % PAGE;
        Frame {
            buf,
            start,
            len,
            home: Some(Arc::clone(&self.idle)),
        }
    }

    #[cfg(test)]
    fn idle(&self) -> usize {
        self.idle.lock().map_or(0, |idle| idle.len())
    }
}

impl fmt::Debug for Frames {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Frames").finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_frame_sits_in_its_page_as_its_offset_does() {
        let frames = Frames::default();
        for offset in [
            0u64,
            1,
            16,
            4095,
            4096,
            262_144,
            8 * 1024 * 1024 + 17,
            5_000_003,
        ] {
            for len in [1, 4096, FRAME_SIZE - 1, FRAME_SIZE] {
                let mut frame = frames.frame_for(offset, len);
                assert_eq!(frame.len(), len);
                assert_eq!(frame.as_mut_slice().len(), len);
                assert_eq!(
                    frame.as_ptr().addr() % PAGE,
                    usize::try_from(offset % PAGE as u64).unwrap(),
                    "offset {offset}, len {len}"
                );
            }
        }
    }

    #[test]
    fn dropped_frames_come_back_to_a_bounded_pool() {
        let frames = Frames::default();
        let first = frames.frame_for(0, FRAME_SIZE);
        let address = first.buf.as_ptr().addr();
        drop(first);
        assert_eq!(frames.idle(), 1);
        let again = frames.frame_for(FRAME_SIZE as u64, 10);
        assert_eq!(again.buf.as_ptr().addr(), address, "the buffer is reused");
        assert_eq!(frames.idle(), 0);
        let many: Vec<Frame> = (0..10).map(|_| frames.frame_for(0, 1)).collect();
        drop(many);
        drop(again);
        assert_eq!(
            frames.idle(),
            MAX_IDLE,
            "no more than MAX_IDLE buffers are kept"
        );
    }

    #[test]
    fn a_frame_of_bytes_is_those_bytes() {
        let frame = Frame::from(b"{\"a\":1}".to_vec());
        assert_eq!(&*frame, b"{\"a\":1}");
    }
}
