//! Uploads the files named on the command line and prints an upload token count.
//!
//! ```text
//! GPHOTOS_ENDPOINT=http://127.0.0.1:8080/v1/ GPHOTOS_ACCESS_TOKEN=test \
//!     cargo run -p gphotos-upload-ureq --example upload -- photo.jpg
//! ```
//!
//! `GPHOTOS_ENDPOINT` defaults to Google's API; the token is a bare OAuth access token.

use gphotos_upload_ureq::{Client, Credentials, Endpoint};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let endpoint = std::env::var("GPHOTOS_ENDPOINT")
        .unwrap_or_else(|_| gphotos_upload_ureq::GOOGLE_API_ROOT.into());
    let token = std::env::var("GPHOTOS_ACCESS_TOKEN")
        .map_err(|_| "set GPHOTOS_ACCESS_TOKEN to an OAuth access token")?;
    let client = Client::new(Endpoint::parse(&endpoint)?, Credentials::bearer(token))?;
    for path in std::env::args().skip(1) {
        let _token = client.upload_file(&path)?; // pass it to mediaItems:batchCreate; never print it
        println!("{path}: uploaded");
    }
    Ok(())
}
