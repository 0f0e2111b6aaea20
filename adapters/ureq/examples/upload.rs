//! Uploads the files named on the command line and creates a media item for each.
//!
//! ```text
//! GPHOTOS_ENDPOINT=http://127.0.0.1:8080/v1/ GPHOTOS_ACCESS_TOKEN=test \
//!     cargo run -p gphotos-upload-ureq --example upload -- photo.jpg
//! ```
//!
//! `GPHOTOS_ENDPOINT` defaults to Google's API; the token is a bare OAuth access token.

use gphotos_upload_ureq::library::{Destination, ItemOutcome, NewMediaItem};
use gphotos_upload_ureq::{Client, Credentials, Endpoint};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let endpoint = std::env::var("GPHOTOS_ENDPOINT")
        .unwrap_or_else(|_| gphotos_upload_ureq::GOOGLE_API_ROOT.into());
    let token = std::env::var("GPHOTOS_ACCESS_TOKEN")
        .map_err(|_| "set GPHOTOS_ACCESS_TOKEN to an OAuth access token")?;
    let client = Client::new(Endpoint::parse(&endpoint)?, Credentials::bearer(token))?;
    for path in std::env::args().skip(1) {
        let token = client.upload_file(&path)?; // never print it: it is a credential for one item
        let item = NewMediaItem::new(token).with_file_name(file_name(&path));
        let created = client.create_media_items(vec![item], &Destination::library())?;
        match &created.items[0].outcome {
            ItemOutcome::Created(media_item) => println!("{path}: created {}", media_item.id),
            other => println!("{path}: not created: {other:?}"),
        }
    }
    Ok(())
}

fn file_name(path: &str) -> String {
    std::path::Path::new(path)
        .file_name()
        .map_or_else(|| path.to_owned(), |n| n.to_string_lossy().into_owned())
}
