//! A complete upload on tokio with the ready hyper transport, against a local emulator.
//!
//! Run with `cargo run -p gphotos-upload-async --example tokio --features hyper`.

use std::error::Error;

use gphotos_emulator::{Config, Emulator};
use gphotos_upload::library::{BatchCreate, Call, Destination, NewMediaItem};
use gphotos_upload::{AccessToken, Endpoint, MediaFile, RetryPolicy, Upload, UploadConfig};
use gphotos_upload_async::{Driver, HyperTransport, StaticToken, TokioFile};

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    // A stand-in for Google on loopback. Against Google, use `Endpoint::google()`, a real OAuth
    // access token and an https client (see `HyperTransport::with_client`).
    let emulator = Emulator::start(Config::default())?;
    let endpoint = Endpoint::parse(&emulator.base_url())?;

    // A 3 MiB file to upload.
    let dir = std::env::temp_dir().join(format!("gphotos-tokio-example-{}", std::process::id()));
    tokio::fs::create_dir_all(&dir).await?;
    let path = dir.join("example.jpg");
    let bytes: Vec<u8> = (0..3 * 1024 * 1024).map(|i: u32| (i % 251) as u8).collect();
    tokio::fs::write(&path, &bytes).await?;

    let file = MediaFile {
        size: tokio::fs::metadata(&path).await?.len(),
        mime_type: "image/jpeg".into(),
        file_name: Some("example.jpg".into()),
    };
    let config = UploadConfig {
        chunk_size: 1024 * 1024,
        ..UploadConfig::default()
    };
    let mut upload = Upload::new(endpoint.clone(), file, config)?;
    let driver = Driver::new(
        HyperTransport::new(),
        StaticToken(AccessToken::new("example-access-token")),
    );

    let result = driver.upload(&mut upload, TokioFile::new(&path)).await;
    tokio::fs::remove_dir_all(&dir).await?;
    // The upload token is single-use and secret: it goes to mediaItems:batchCreate, never to a log.
    let upload_token = result?;

    // Turn it into a media item. batchCreate answers 200 even when items fail: check each one.
    let item = NewMediaItem::new(upload_token).with_file_name("example.jpg");
    for batch in BatchCreate::split(vec![item], &Destination::library())? {
        let mut call = Call::new(endpoint.clone(), batch, RetryPolicy::default(), 1);
        let created = driver.call(&mut call).await?;
        for (_, media_item) in created.created() {
            println!("created media item {}", media_item.id);
        }
        if !created.all_created() {
            return Err("an item was not created".into());
        }
    }
    let progress = upload.progress();
    println!(
        "uploaded {} of {} bytes in {} session(s)",
        progress.confirmed,
        progress.total,
        upload.sessions_started()
    );
    println!(
        "the emulator holds {} media item(s)",
        emulator.inspect().media_items.len()
    );
    emulator.stop();
    Ok(())
}
