//! The blocking adapter used as a library, the way a script would: one shared `Client`, one
//! `upload_file` call per file, `concurrency` threads taking files from a common queue.

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

use gphotos_upload_ureq::{Client, Credentials, Endpoint};

/// Uploads `files` with `concurrency` threads sharing one client (and its connection pool).
///
/// # Errors
/// The first failed upload, described.
pub(crate) fn upload_all(
    endpoint: &str,
    files: &[PathBuf],
    concurrency: usize,
) -> Result<(), String> {
    let endpoint = Endpoint::parse(endpoint).map_err(|e| format!("bad endpoint: {e}"))?;
    let client = Client::builder(endpoint, Credentials::bearer("bench"))
        .max_idle_connections(concurrency)
        .build()
        .map_err(|e| e.to_string())?;
    let next = AtomicUsize::new(0);
    let worker = || -> Result<(), String> {
        loop {
            let Some(path) = files.get(next.fetch_add(1, Ordering::Relaxed)) else {
                return Ok(());
            };
            client
                .upload_file(path)
                .map_err(|e| format!("{}: {e}", path.display()))?;
        }
    };
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..concurrency.min(files.len()))
            .map(|_| scope.spawn(worker))
            .collect();
        workers.into_iter().try_for_each(|handle| {
            handle
                .join()
                .map_err(|_| "an upload thread panicked".to_owned())?
        })
    })
}
