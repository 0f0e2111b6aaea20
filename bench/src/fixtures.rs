//! The input files: one large file and many small ones, with pseudo-random content (so that no
//! layer can compress or deduplicate it) and their SHA-256, to check what the server received.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

/// A file the benchmark uploads and what the server must end up holding.
#[derive(Debug, Clone)]
pub(crate) struct Input {
    pub(crate) path: PathBuf,
    pub(crate) size: u64,
    pub(crate) sha256: String,
}

/// Writes `size` pseudo-random bytes from `seed` to `path` and hashes them on the way.
///
/// # Errors
/// The file cannot be written.
pub(crate) fn write(path: &Path, size: u64, seed: u64) -> io::Result<Input> {
    const BLOCK: usize = 1024 * 1024;
    let mut out = BufWriter::with_capacity(BLOCK, File::create(path)?);
    let mut hasher = Sha256::new();
    let mut rng = SplitMix64(seed);
    let mut block = vec![0u8; BLOCK];
    let mut left = size;
    while left > 0 {
        let n = usize::try_from(left).map_or(BLOCK, |l| l.min(BLOCK));
        for word in block[..n].chunks_mut(8) {
            let bytes = rng.next().to_le_bytes();
            word.copy_from_slice(&bytes[..word.len()]);
        }
        out.write_all(&block[..n])?;
        hasher.update(&block[..n]);
        left -= n as u64;
    }
    out.into_inner()
        .map_err(io::IntoInnerError::into_error)?
        .sync_all()?;
    Ok(Input {
        path: path.to_path_buf(),
        size,
        sha256: hex(&hasher.finalize()),
    })
}

/// Lowercase hex, as the emulator reports SHA-256.
fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// A small, fast generator: content only has to be incompressible and differ between files.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_and_hash_match() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.jpg");
        let input = write(&path, 3 * 1024 * 1024 + 5, 7).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(bytes.len() as u64, input.size);
        assert_eq!(input.sha256, hex(&Sha256::digest(&bytes)));
        let other = write(&dir.path().join("b.jpg"), input.size, 8).unwrap();
        assert_ne!(other.sha256, input.sha256);
    }
}
