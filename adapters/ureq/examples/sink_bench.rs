//! Uploads one large file (or a generated stream) to an in-process emulator in sink mode and prints
//! the rate and the process's peak resident memory.
//!
//! ```text
//! cargo run --release -p gphotos-upload-ureq --example sink_bench -- [SIZE_MIB | PATH] [CHUNK_MIB] [BUFFER_KIB]
//! ```
//!
//! With `GPHOTOS_ENDPOINT` set (for example to a `gphotos-emulator --sink` started separately) it
//! uploads there instead of to an in-process emulator. Without a path the source is generated (no disk involved), so the figure is the client's and the
//! emulator's cost alone.

use std::io::{self, Read, Seek, SeekFrom};
use std::time::Instant;

use gphotos_emulator::{Config, Emulator, Storage};
use gphotos_upload_ureq::{Client, Credentials, Endpoint, MediaFile};

/// A seekable stream of `size` bytes that holds no data.
struct Generated {
    size: u64,
    position: u64,
}

impl Read for Generated {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let left = self.size.saturating_sub(self.position);
        let n = usize::try_from(left).map_or(buf.len(), |l| l.min(buf.len()));
        for (i, byte) in (self.position..).zip(buf[..n].iter_mut()) {
            *byte = i.to_le_bytes()[0];
        }
        self.position += n as u64;
        Ok(n)
    }
}

impl Seek for Generated {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        match pos {
            SeekFrom::Start(at) => {
                self.position = at;
                Ok(at)
            }
            _ => Err(io::Error::other("only absolute seeks")),
        }
    }
}

fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let what = args.next().unwrap_or_else(|| "1024".into());
    let chunk_mib: u64 = args.next().map_or(Ok(8), |c| c.parse())?;
    let buffer_kib: usize = args.next().map_or(Ok(256), |b| b.parse())?;
    // An external server (`gphotos-emulator --sink`) keeps its CPU out of this process's figures.
    let (emulator, endpoint) = if let Ok(url) = std::env::var("GPHOTOS_ENDPOINT") {
        (None, url)
    } else {
        let emulator = Emulator::start(Config {
            storage: Storage::Sink,
            ..Config::default()
        })?;
        let url = emulator.base_url();
        (Some(emulator), url)
    };
    let client = Client::builder(Endpoint::parse(&endpoint)?, Credentials::bearer("bench"))
        .chunk_size(chunk_mib << 20)
        .build()?;

    let started = Instant::now();
    let size = if let Ok(mib) = what.parse::<u64>() {
        let size = mib << 20;
        let mut upload = client.new_upload(MediaFile {
            size,
            mime_type: "video/mp4".into(),
            file_name: Some("bench.mp4".into()),
        })?;
        let mut source = Generated { size, position: 0 };
        client.upload_with(&mut upload, &mut source, &mut gphotos_upload_ureq::Quiet)?;
        size
    } else {
        client.upload_file(&what)?;
        std::fs::metadata(&what)?.len()
    };
    let elapsed = started.elapsed();
    // Sizes in MiB fit an f64 exactly far beyond any file.
    #[allow(clippy::cast_precision_loss)]
    let mib = (size >> 10) as f64 / 1024.0;
    println!(
        "{mib:.0} MiB in {:.2} s: {:.0} MiB/s, chunk {chunk_mib} MiB, buffer {buffer_kib} KiB, peak RSS {} KiB{}",
        elapsed.as_secs_f64(),
        mib / elapsed.as_secs_f64(),
        peak_rss_kib().map_or_else(|| "?".into(), |k| k.to_string()),
        if emulator.is_some() {
            " (client and emulator in one process)"
        } else {
            ""
        },
    );
    if let Some(emulator) = emulator {
        emulator.stop();
    }
    Ok(())
}
