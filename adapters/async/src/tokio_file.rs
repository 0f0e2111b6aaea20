//! Sources over tokio: any tokio reader, and files read straight into the driver's frames.

use std::fs::File;
use std::io::{self, SeekFrom};
use std::path::{Path, PathBuf};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncSeek, AsyncSeekExt};

use crate::source::explain_eof;
use crate::{Frame, Source};

/// A source over tokio's async reader traits (`tokio::fs::File`, `std::io::Cursor`).
///
/// For files prefer [`TokioFile`]: `tokio::fs::File` reads into a buffer of its own and copies.
#[derive(Debug)]
pub struct TokioSource<R>(pub R);

impl<R: AsyncRead + AsyncSeek + Unpin> Source for TokioSource<R> {
    async fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        self.0.seek(SeekFrom::Start(offset)).await?;
        self.0.read_exact(buf).await.map(drop).map_err(explain_eof)
    }
}

/// A file on disk, opened on its first read, so that a long list of files handed to
/// [`crate::Driver::upload_many`] holds only the files in progress open.
///
/// Each frame is read straight into the frame that the transport then sends: the bytes are copied
/// once, from the page cache. On Linux, what needs no disk access is done at once on the calling
/// thread: the file is opened with `openat2(RESOLVE_CACHED)` (fails rather than look a path up on
/// disk) and frames already in the page cache are read with `preadv2(RWF_NOWAIT)` (returns what is
/// cached rather than wait for the disk). Anything else (a path or bytes still on disk, other
/// systems) goes to tokio's blocking pool with a plain `open` and `pread`. A trip to the blocking
/// pool and back costs two thread wake-ups; per 256 KiB frame of a cached 1 GiB file that was
/// about a fifth of the client's CPU on the benchmark machine.
#[derive(Debug)]
pub struct TokioFile {
    path: PathBuf,
    file: Option<File>,
}

impl TokioFile {
    /// The file at `path`, not opened yet.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            file: None,
        }
    }
}

impl Source for TokioFile {
    /// Reads through a buffer of its own (a borrowed `buf` cannot go to the blocking pool) and
    /// copies; the driver uses [`Source::read_frame`], which does not.
    async fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        let frame = self
            .read_frame(offset, Frame::from(vec![0; buf.len()]))
            .await?;
        buf.copy_from_slice(&frame);
        Ok(())
    }

    async fn read_frame(&mut self, offset: u64, mut frame: Frame) -> io::Result<Frame> {
        if self.file.is_none() {
            self.file = open_cached(&self.path);
        }
        let cached = match &self.file {
            Some(file) => read_cached(file, frame.as_mut_slice(), offset),
            None => 0,
        };
        if cached == frame.len() {
            return Ok(frame);
        }
        // Only the first read opens the file, in the same trip to the blocking pool.
        let opened = self.file.take().ok_or_else(|| self.path.clone());
        let read = tokio::task::spawn_blocking(move || {
            let file = match opened {
                Ok(file) => file,
                Err(path) => File::open(&path)
                    .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))?,
            };
            read_exact_at(
                &file,
                &mut frame.as_mut_slice()[cached..],
                offset + cached as u64,
            )
            .map_err(explain_eof)?;
            Ok::<_, io::Error>((file, frame))
        })
        .await
        .map_err(|e| io::Error::other(format!("the read on tokio's blocking pool failed: {e}")))?;
        let (file, frame) = read?;
        self.file = Some(file);
        Ok(frame)
    }
}

/// Reads what the page cache holds of `buf`'s range without waiting for the disk, and returns how
/// many bytes that was: all of them for a cached file. Any failure (bytes on disk, the end of the
/// file, a kernel or file system without `RWF_NOWAIT`) just stops it early; the blocking read that
/// follows reports real errors.
#[cfg(target_os = "linux")]
fn read_cached(file: &File, buf: &mut [u8], offset: u64) -> usize {
    use rustix::io::{Errno, ReadWriteFlags, preadv2};
    let mut filled = 0;
    while filled < buf.len() {
        let mut slices = [io::IoSliceMut::new(&mut buf[filled..])];
        match preadv2(
            file,
            &mut slices,
            offset + filled as u64,
            ReadWriteFlags::NOWAIT,
        ) {
            Ok(0) => break,
            Ok(read) => filled += read,
            Err(Errno::INTR) => {}
            Err(_) => break,
        }
    }
    filled
}

/// Opens the file for reading if its path can be resolved without touching the disk; `None`
/// otherwise (the blocking open that follows reports real errors, with the path).
#[cfg(target_os = "linux")]
fn open_cached(path: &Path) -> Option<File> {
    use rustix::fs::{CWD, Mode, OFlags, ResolveFlags, openat2};
    let flags = OFlags::RDONLY | OFlags::CLOEXEC;
    openat2(CWD, path, flags, Mode::empty(), ResolveFlags::CACHED)
        .ok()
        .map(File::from)
}

#[cfg(not(target_os = "linux"))]
fn open_cached(_path: &Path) -> Option<File> {
    None
}

#[cfg(not(target_os = "linux"))]
fn read_cached(_file: &File, _buf: &mut [u8], _offset: u64) -> usize {
    0
}

#[cfg(unix)]
fn read_exact_at(file: &File, buf: &mut [u8], offset: u64) -> io::Result<()> {
    std::os::unix::fs::FileExt::read_exact_at(file, buf, offset)
}

#[cfg(not(unix))]
fn read_exact_at(mut file: &File, buf: &mut [u8], offset: u64) -> io::Result<()> {
    use std::io::{Read, Seek};
    file.seek(SeekFrom::Start(offset))?;
    file.read_exact(buf)
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    #[test]
    fn cached_bytes_are_read_without_waiting_and_the_end_stops_it() {
        let path = std::env::temp_dir().join(format!("gphotos-nowait-{}", std::process::id()));
        let bytes: Vec<u8> = (0..100_000u32).map(|i| i.to_le_bytes()[0]).collect();
        std::fs::write(&path, &bytes).unwrap();
        assert!(open_cached(&path.with_extension("missing")).is_none());
        // Just written, so its path and bytes are cached (where the kernel supports the flags).
        let file = open_cached(&path).unwrap_or_else(|| File::open(&path).unwrap());
        let mut buf = vec![0; 50_000];
        let read = read_cached(&file, &mut buf, 4096);
        // A file system without RWF_NOWAIT reads nothing here, and the blocking read takes over.
        if read > 0 {
            assert_eq!(read, buf.len());
            assert_eq!(buf, bytes[4096..54_096]);
        }
        // Past the end: what there is, then a stop, never an error or a hang.
        let read = read_cached(&file, &mut buf, 90_000);
        assert!(read <= 10_000, "{read}");
        std::fs::remove_file(&path).unwrap();
    }
}
