//! Streaming a chunk's body into an object. Whenever a body ends early (the client went away, or
//! a drop fault), the object is cut back to the last multiple of the granularity: servers persist
//! whole units only.

use std::io;

use crate::http::BUF_SIZE;
use crate::server::Exchange;
use crate::storage::ObjectWriter;

/// How a body went into an object.
pub(crate) enum Streamed {
    /// Every byte was read.
    Complete,
    /// A drop fault cut the body short; the object was rolled back to the last whole unit.
    Dropped,
}

pub(crate) enum StreamError {
    /// The client went away or timed out; rolled back like a drop.
    Client,
    /// Writing the object failed; rolled back.
    Storage(io::Error),
}

/// Streams the body into `writer`, storing at most `keep` bytes of it (the rest is read and
/// dropped: the lose-tail fault) and reading at most `limit` bytes (the drop fault). Whenever the
/// body ends early, the object is cut back to the last multiple of the granularity, which is what a
/// server persists.
///
/// `persisted` hears each new whole-unit length as it is reached, so that a query during a long
/// chunk reports live progress.
pub(crate) fn stream(
    writer: &mut ObjectWriter,
    ex: &mut Exchange<'_, '_>,
    keep: u64,
    len: u64,
    limit: Option<u64>,
    persisted: &mut dyn FnMut(u64),
) -> Result<Streamed, StreamError> {
    let granularity = ex.shared.config.granularity;
    let to_read = limit.map_or(len, |limit| limit.min(len));
    let mut checkpoint = writer.checkpoint();
    let mut taken = 0u64;
    while taken < to_read {
        let max = usize::try_from(to_read - taken)
            .unwrap_or(usize::MAX)
            .min(BUF_SIZE);
        let piece = match ex.body.next(max) {
            Ok(piece) if !piece.is_empty() => piece,
            _ => {
                return match writer.rollback(checkpoint) {
                    Ok(()) => Err(StreamError::Client),
                    Err(error) => Err(StreamError::Storage(error)),
                };
            }
        };
        let storable = usize::try_from(keep.saturating_sub(taken))
            .unwrap_or(usize::MAX)
            .min(piece.len());
        let data = &piece[..storable];
        taken += piece.len() as u64;
        if data.is_empty() {
            continue;
        }
        // Checkpoint at the last granularity boundary inside this piece, so that a later failure
        // keeps every whole unit received.
        let end = writer.len() + data.len() as u64;
        let boundary = end / granularity * granularity;
        let written = if boundary > writer.len() {
            let split = usize::try_from(boundary - writer.len()).unwrap_or(data.len());
            writer.append(&data[..split]).and_then(|()| {
                checkpoint = writer.checkpoint();
                persisted(writer.len());
                writer.append(&data[split..])
            })
        } else {
            writer.append(data)
        };
        if let Err(error) = written {
            let _ = writer.rollback(checkpoint);
            return Err(StreamError::Storage(error));
        }
    }
    if taken < len {
        writer.rollback(checkpoint).map_err(StreamError::Storage)?;
        return Ok(Streamed::Dropped);
    }
    Ok(Streamed::Complete)
}
