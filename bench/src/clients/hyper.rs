//! The async adapter used as a library: `gphotos_upload_async::Driver` over its hyper transport on a
//! tokio runtime, reading files with `TokioFile`. One file goes through `Driver::upload`; several go
//! through `Driver::upload_many`, which runs them inside one future, `concurrency` at a time.

use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};

use gphotos_upload::{AccessToken, Endpoint, MediaFile, Upload, UploadConfig};
use gphotos_upload_async::{Driver, HyperTransport, StaticToken, TokioFile};

/// Uploads `files`, `concurrency` at a time.
///
/// # Errors
/// The first failed upload, described.
pub(crate) fn upload_all(
    endpoint: &str,
    files: &[PathBuf],
    concurrency: usize,
) -> Result<(), String> {
    let endpoint = Endpoint::parse(endpoint).map_err(|e| format!("bad endpoint: {e}"))?;
    let concurrency = NonZeroUsize::new(concurrency).ok_or("the concurrency must be positive")?;
    let mut uploads = files
        .iter()
        .zip(0u64..)
        .map(|(path, seed)| {
            let config = UploadConfig {
                seed,
                ..UploadConfig::default()
            };
            Upload::new(endpoint.clone(), media(path)?, config)
                .map_err(|e| format!("{}: {e}", path.display()))
        })
        .collect::<Result<Vec<_>, _>>()?;
    // The runtime `#[tokio::main]` gives: one worker per core.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start tokio: {e}"))?;
    runtime.block_on(async {
        let driver = Driver::new(
            HyperTransport::new(),
            StaticToken(AccessToken::new("bench")),
        );
        if let [upload] = uploads.as_mut_slice() {
            return driver
                .upload(upload, TokioFile::new(&files[0]))
                .await
                .map(drop)
                .map_err(|e| format!("{}: {e}", files[0].display()));
        }
        let results = driver
            .upload_many(
                uploads
                    .iter_mut()
                    .zip(files)
                    .map(|(upload, path)| (upload, TokioFile::new(path))),
                concurrency,
            )
            .await;
        results
            .into_iter()
            .zip(files)
            .try_for_each(|(result, path)| {
                result
                    .map(drop)
                    .map_err(|e| format!("{}: {e}", path.display()))
            })
    })
}

fn media(path: &Path) -> Result<MediaFile, String> {
    let size = std::fs::metadata(path)
        .map_err(|e| format!("{}: {e}", path.display()))?
        .len();
    let mime_type = match path.extension().and_then(|e| e.to_str()) {
        Some("mp4") => "video/mp4",
        _ => "image/jpeg",
    };
    Ok(MediaFile {
        size,
        mime_type: mime_type.into(),
        file_name: path.file_name().and_then(|n| n.to_str()).map(str::to_owned),
    })
}
