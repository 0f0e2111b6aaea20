//! Uploads the files named on the command line and creates a media item for each.
//!
//! ```text
//! GPHOTOS_ENDPOINT=http://127.0.0.1:8080/v1/ GPHOTOS_ACCESS_TOKEN=test \
//!     cargo run -p gphotos-upload-ureq --example upload -- photo.jpg
//! ```
//!
//! `GPHOTOS_ENDPOINT` defaults to Google's API; the token is a bare OAuth access token.

use std::process::ExitCode;

use gphotos_upload_ureq::library::{Destination, ItemOutcome, NewMediaItem};
use gphotos_upload_ureq::{Client, Credentials, Endpoint, Error};

fn main() -> ExitCode {
    let client = match client() {
        Ok(client) => client,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::from(2);
        }
    };
    let mut failed = false;
    for path in std::env::args().skip(1) {
        match upload(&client, &path) {
            Ok(id) => println!("{path}: created {id}"),
            Err(why) => {
                eprintln!("{path}: not created: {why}");
                failed = true;
            }
        }
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

fn client() -> Result<Client, Box<dyn std::error::Error>> {
    let endpoint = std::env::var("GPHOTOS_ENDPOINT")
        .unwrap_or_else(|_| gphotos_upload_ureq::GOOGLE_API_ROOT.into());
    let token = std::env::var("GPHOTOS_ACCESS_TOKEN")
        .map_err(|_| "set GPHOTOS_ACCESS_TOKEN to an OAuth access token")?;
    Ok(Client::new(
        Endpoint::parse(&endpoint)?,
        Credentials::bearer(token),
    )?)
}

/// The five lines of the crate docs, with the outcome spelled out.
fn upload(client: &Client, path: &str) -> Result<String, String> {
    let token = client.upload_file(path).map_err(|e: Error| e.to_string())?; // never print it
    let item = NewMediaItem::new(token).with_file_name(file_name(path));
    let created = client
        .create_media_items(vec![item], &Destination::library())
        .map_err(|e| e.to_string())?;
    match created.items.first().map(|result| &result.outcome) {
        Some(ItemOutcome::Created(media_item)) => Ok(media_item.id.clone()),
        Some(ItemOutcome::Failed(failure)) => Err(failure.to_string()),
        Some(other) => Err(format!("{other:?}")),
        None => Err("the reply had no result for the item".into()),
    }
}

fn file_name(path: &str) -> String {
    std::path::Path::new(path)
        .file_name()
        .map_or_else(|| path.to_owned(), |n| n.to_string_lossy().into_owned())
}
