//! `gphotos-upload demo`: the whole upload path against an in-process emulator, with proof that the
//! stored bytes match. Needs no account and no network.

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

use gphotos_emulator::{Config, Emulator, Inspection};
use gphotos_upload::Endpoint;
use gphotos_upload::job::AlbumChoice;
use gphotos_upload_ureq::{Credentials, RetryPolicy, Timeouts};
use sha2::{Digest, Sha256};

use crate::args::DemoArgs;
use crate::failure::Failure;
use crate::units;
use crate::upload::{self, Options, Status};

/// The demo's chunk size: small, so that the sample video takes several requests.
const CHUNK: u64 = 1024 * 1024;

/// Runs the demo; `Ok(true)` when every file was created with matching bytes.
///
/// # Errors
/// A runtime failure when the emulator or the sample files cannot be set up.
pub fn run(args: &DemoArgs) -> Result<bool, Failure> {
    let emulator = Emulator::start(Config::default())
        .map_err(|e| Failure::failed(format!("cannot start the emulator: {e}")))?;
    let workdir = tempfile::Builder::new()
        .prefix("gphotos-upload-demo-")
        .tempdir()
        .map_err(|e| Failure::failed(format!("cannot create a temporary directory: {e}")))?;
    let paths = if args.paths.is_empty() {
        let samples = workdir.path().join("samples");
        write_samples(&samples)
            .map_err(|e| Failure::failed(format!("cannot write the sample files: {e}")))?;
        vec![samples]
    } else {
        args.paths.clone()
    };
    eprintln!(
        "Demo: an emulated Google Photos Library API is listening at {}",
        emulator.base_url()
    );
    eprintln!(
        "Uploading {} through the same code path as `gphotos-upload upload` ...\n",
        paths
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    );
    let endpoint = Endpoint::parse(&emulator.base_url())
        .map_err(|e| Failure::failed(format!("the emulator's address: {e}")))?;
    let options = Options {
        endpoint,
        paths,
        album: AlbumChoice::Create("gphotos-upload demo".into()),
        description: Some("uploaded by gphotos-upload demo".into()),
        concurrency: usize::from(args.concurrency),
        chunk_size: CHUNK,
        journal: Some(workdir.path().join("journal.jsonl")),
        json: args.json,
        progress: true,
        retry: RetryPolicy::default(),
        timeouts: Timeouts::default(),
    };
    // The emulator takes any bearer token; a real run uses the token from `auth login`.
    let outcome = upload::execute(&options, Credentials::bearer("demo-access-token"))?;
    let all_match = verify(&outcome, &emulator.inspect());
    if all_match {
        eprintln!(
            "\nDemo passed. For real uploads: create an OAuth client (see README), then\n  \
             gphotos-upload auth login --client-secrets client_secret.json\n  \
             gphotos-upload upload ~/Pictures/holiday"
        );
    } else {
        eprintln!("\nDemo FAILED: see the lines above.");
    }
    emulator.stop();
    Ok(all_match)
}

/// Prints every created item beside the emulator's record of it; whether all bytes match.
fn verify(outcome: &upload::Outcome, state: &Inspection) -> bool {
    eprintln!("\nMedia items the emulator now holds, checked byte for byte:\n");
    let mut all_match = outcome.all_created;
    for result in &outcome.results {
        let Status::Created { media_item_id, .. } = &result.status else {
            continue;
        };
        let stored = state.media_items.iter().find(|m| &m.id == media_item_id);
        let local = fs::read(&result.path).map(|bytes| hex(&Sha256::digest(&bytes)));
        let verdict = match (stored, &local) {
            (Some(item), Ok(sha)) if &item.sha256 == sha => "bytes match (SHA-256)",
            (Some(_), Ok(_)) => {
                all_match = false;
                "BYTES DIFFER"
            }
            (None, _) => {
                all_match = false;
                "NOT FOUND on the server"
            }
            (_, Err(_)) => {
                all_match = false;
                "local file unreadable"
            }
        };
        let name = Path::new(&result.path)
            .file_name()
            .map_or_else(|| result.path.clone(), |n| n.to_string_lossy().into_owned());
        let (size, sha) = stored.map_or((0, String::new()), |m| (m.size, m.sha256.clone()));
        eprintln!(
            "  {name:<16} {:>10}  {media_item_id}  sha256 {}…  {verdict}",
            units::bytes(size),
            sha.get(..16).unwrap_or_default()
        );
    }
    if let Some(album) = state.albums.first() {
        eprintln!(
            "\n  album \"{}\" ({}) holds {} items",
            album.title,
            album.id,
            album.media_item_ids.len()
        );
    }
    let sessions = state.sessions.len();
    let requests = state.requests.len();
    eprintln!(
        "\n  {requests} requests: {sessions} resumable session(s) for the larger files, simple \
         uploads for the small ones, one album, batched batchCreate calls"
    );
    all_match
}

/// Small valid-looking photos and one video that spans several chunks.
fn write_samples(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    fs::create_dir_all(dir)?;
    let samples = [
        ("sunrise.jpg", jpeg(180 * 1024, 1)),
        ("harbour.png", png(96 * 1024, 2)),
        ("market.jpg", jpeg(420 * 1024, 3)),
        ("holiday.mp4", mp4(3 * 1024 * 1024 + 123_457, 4)),
    ];
    let mut written = Vec::new();
    for (name, bytes) in samples {
        let path = dir.join(name);
        fs::write(&path, bytes)?;
        written.push(path);
    }
    fs::write(dir.join("notes.txt"), b"not a photo: the upload skips it\n")?;
    Ok(written)
}

/// Deterministic filler, different per `seed`.
fn filler(len: usize, seed: u8) -> impl Iterator<Item = u8> {
    (0..len).map(move |i| (i.wrapping_mul(31) ^ (i >> 7)).to_le_bytes()[0] ^ seed)
}

/// A JPEG's start and end markers around filler.
fn jpeg(len: usize, seed: u8) -> Vec<u8> {
    let mut bytes = vec![
        0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, b'J', b'F', b'I', b'F', 0x00, 0x01, 0x01, 0x00, 0x00,
        0x01, 0x00, 0x01, 0x00, 0x00,
    ];
    bytes.extend(filler(len.saturating_sub(bytes.len() + 2), seed));
    bytes.extend([0xFF, 0xD9]);
    bytes
}

/// A PNG signature and IHDR chunk before filler.
fn png(len: usize, seed: u8) -> Vec<u8> {
    let mut bytes = vec![0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A];
    bytes.extend([
        0, 0, 0, 13, b'I', b'H', b'D', b'R', 0, 0, 1, 0, 0, 0, 1, 0, 8, 2, 0, 0, 0,
    ]);
    bytes.extend(filler(len.saturating_sub(bytes.len()), seed));
    bytes
}

/// An MP4 `ftyp` box before filler.
fn mp4(len: usize, seed: u8) -> Vec<u8> {
    let mut bytes = vec![0, 0, 0, 0x18];
    bytes.extend(b"ftypmp42");
    bytes.extend([0, 0, 0, 0]);
    bytes.extend(b"mp42isom");
    bytes.extend(filler(len.saturating_sub(bytes.len()), seed));
    bytes
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::new(), |mut text, b| {
        let _ = write!(text, "{b:02x}");
        text
    })
}
