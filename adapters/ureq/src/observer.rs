//! Hooks for progress displays and journals.

use gphotos_upload::Upload;

/// Hears what an upload does, for a progress bar or a crash journal.
///
/// Both methods default to doing nothing. A closure `FnMut(&Upload)` is an observer whose
/// [`Observer::step`] is the closure.
pub trait Observer {
    /// The machine took a step: a reply or a transport error was handed to it, or a fresh token.
    /// It is now in a consistent state: [`Upload::progress`] holds the bytes the server confirmed,
    /// and a journal can serialize the machine (serde) so that a killed process resumes from it.
    fn step(&mut self, upload: &Upload) {
        let _ = upload;
    }

    /// `bytes` more bytes of the source went out on the wire. They are not confirmed until the
    /// server acknowledges them (see [`Observer::step`]); a fault can make some go out again. Use it
    /// only to keep a rate display moving during a long chunk.
    fn sent(&mut self, bytes: u64) {
        let _ = bytes;
    }
}

impl<F: FnMut(&Upload)> Observer for F {
    fn step(&mut self, upload: &Upload) {
        self(upload);
    }
}

/// An observer that ignores everything.
#[derive(Debug, Clone, Copy, Default)]
pub struct Quiet;

impl Observer for Quiet {}
