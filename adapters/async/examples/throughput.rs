//! Measures the async driver with the hyper transport against the emulator in sink mode: one
//! 1 GiB file (8 MiB chunks), then 500 files of 256 KiB eight at a time. The bytes are generated
//! chunk by chunk, so peak memory shows what the driver itself holds.
//!
//! Run with `cargo run --release -p gphotos-upload-async --example throughput --features hyper`.

use std::error::Error;
use std::io;
use std::num::NonZeroUsize;
use std::time::Instant;

use gphotos_emulator::{Config, Emulator, Storage};
use gphotos_upload::{AccessToken, Endpoint, MediaFile, Upload, UploadConfig};
use gphotos_upload_async::{Driver, HyperTransport, Source, StaticToken};

/// A file whose byte at offset `i` is `i % 251`, made on demand.
struct Pattern;

impl Source for Pattern {
    async fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        // One period of the pattern, copied piece by piece: as cheap as reading a cached file.
        let period: Vec<u8> = (0..=250).collect();
        let mut phase = usize::try_from(offset % 251).unwrap_or(0);
        for piece in buf.chunks_mut(251) {
            let (head, tail) = piece.split_at_mut(piece.len().min(251 - phase));
            head.copy_from_slice(&period[phase..phase + head.len()]);
            tail.copy_from_slice(&period[..tail.len()]);
            phase = (phase + piece.len()) % 251;
        }
        Ok(())
    }
}

fn media(size: u64, name: String) -> MediaFile {
    MediaFile {
        size,
        mime_type: "video/mp4".into(),
        file_name: Some(name),
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let emulator = Emulator::start(Config {
        storage: Storage::Sink,
        ..Config::default()
    })?;
    let endpoint = Endpoint::parse(&emulator.base_url())?;
    let driver = Driver::new(
        HyperTransport::new(),
        StaticToken(AccessToken::new("bench")),
    );

    let size: u64 = 1 << 30;
    let mut upload = Upload::new(
        endpoint.clone(),
        media(size, "big.mp4".into()),
        UploadConfig::default(),
    )?;
    let started = Instant::now();
    driver.upload(&mut upload, Pattern).await?;
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "1 GiB, one file, 8 MiB chunks: {seconds:.2} s, {:.0} MiB/s",
        1024.0 / seconds
    );

    let small: u64 = 256 * 1024;
    let mut uploads = (0..500u64)
        .map(|i| {
            let config = UploadConfig {
                seed: i,
                ..UploadConfig::default()
            };
            Upload::new(endpoint.clone(), media(small, format!("f{i}.jpg")), config)
        })
        .collect::<Result<Vec<_>, _>>()?;
    let started = Instant::now();
    let results = driver
        .upload_many(
            uploads.iter_mut().map(|upload| (upload, Pattern)),
            NonZeroUsize::new(8).ok_or("concurrency")?,
        )
        .await;
    let seconds = started.elapsed().as_secs_f64();
    if let Some(Err(error)) = results.iter().find(|r| r.is_err()) {
        return Err(format!("an upload failed: {error}").into());
    }
    println!(
        "500 files of 256 KiB, 8 at a time: {seconds:.2} s, {:.0} files/s, {:.0} MiB/s",
        500.0 / seconds,
        125.0 / seconds
    );
    emulator.stop();
    Ok(())
}
