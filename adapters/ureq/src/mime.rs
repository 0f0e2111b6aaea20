//! MIME types of photo and video files, from their extension.
//!
//! Google Photos decides what a file is from its bytes, but the upload start request must name a
//! type, and an honest one avoids surprises. The table covers what cameras and phones produce; a
//! file outside it is refused with [`crate::Error::UnknownMediaType`] rather than sent as
//! `application/octet-stream`, which Google would store as nothing useful.

use std::path::Path;

/// Extension (lower case, no dot) to MIME type.
const TABLE: &[(&str, &str)] = &[
    // Photos.
    ("jpg", "image/jpeg"),
    ("jpeg", "image/jpeg"),
    ("jpe", "image/jpeg"),
    ("png", "image/png"),
    ("gif", "image/gif"),
    ("heic", "image/heic"),
    ("heif", "image/heif"),
    ("webp", "image/webp"),
    ("tif", "image/tiff"),
    ("tiff", "image/tiff"),
    ("bmp", "image/bmp"),
    ("avif", "image/avif"),
    // Camera raw formats.
    ("dng", "image/x-adobe-dng"),
    ("cr2", "image/x-canon-cr2"),
    ("cr3", "image/x-canon-cr3"),
    ("crw", "image/x-canon-crw"),
    ("nef", "image/x-nikon-nef"),
    ("nrw", "image/x-nikon-nrw"),
    ("arw", "image/x-sony-arw"),
    ("srf", "image/x-sony-srf"),
    ("sr2", "image/x-sony-sr2"),
    ("orf", "image/x-olympus-orf"),
    ("rw2", "image/x-panasonic-rw2"),
    ("raf", "image/x-fuji-raf"),
    ("pef", "image/x-pentax-pef"),
    ("srw", "image/x-samsung-srw"),
    // Videos. `.ts` is left out on purpose: it is far more often TypeScript than MPEG-TS.
    ("mp4", "video/mp4"),
    ("m4v", "video/x-m4v"),
    ("mov", "video/quicktime"),
    ("qt", "video/quicktime"),
    ("avi", "video/x-msvideo"),
    ("mkv", "video/x-matroska"),
    ("3gp", "video/3gpp"),
    ("3g2", "video/3gpp2"),
    ("mts", "video/mp2t"),
    ("m2ts", "video/mp2t"),
    ("m2t", "video/mp2t"),
    ("wmv", "video/x-ms-wmv"),
    ("asf", "video/x-ms-asf"),
    ("webm", "video/webm"),
    ("mpg", "video/mpeg"),
    ("mpeg", "video/mpeg"),
    ("m1v", "video/mpeg"),
    ("mod", "video/mpeg"),
    ("tod", "video/mpeg"),
    ("flv", "video/x-flv"),
    ("divx", "video/divx"),
];

/// The MIME type of a photo or video extension (`"JPG"`, `"mp4"`; case-insensitive, no dot), or
/// `None` when it is not a media type Google Photos takes.
pub fn for_extension(extension: &str) -> Option<&'static str> {
    TABLE
        .iter()
        .find(|(known, _)| known.eq_ignore_ascii_case(extension))
        .map(|(_, mime)| *mime)
}

/// The MIME type of a file, from its extension, or `None` when the extension is missing or not a
/// media type Google Photos takes.
pub fn for_path(path: &Path) -> Option<&'static str> {
    for_extension(path.extension()?.to_str()?)
}

/// Every extension the table knows, lower case, for listings and `--help` texts.
pub fn known_extensions() -> impl Iterator<Item = &'static str> {
    TABLE.iter().map(|(extension, _)| *extension)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_types_are_known_in_any_case() {
        assert_eq!(for_extension("JPG"), Some("image/jpeg"));
        assert_eq!(for_extension("heic"), Some("image/heic"));
        assert_eq!(for_extension("Mov"), Some("video/quicktime"));
        assert_eq!(for_extension("m2ts"), Some("video/mp2t"));
        assert_eq!(for_extension("dng"), Some("image/x-adobe-dng"));
        assert_eq!(
            for_path(Path::new("/a/b/IMG_0001.JPEG")),
            Some("image/jpeg")
        );
    }

    #[test]
    fn other_files_are_unknown() {
        assert_eq!(for_extension("txt"), None);
        assert_eq!(for_extension(""), None);
        assert_eq!(for_path(Path::new("README")), None);
        assert_eq!(
            for_path(Path::new(".jpg")),
            None,
            "a dot file has no extension"
        );
    }

    #[test]
    fn every_requested_extension_is_covered() {
        for ext in [
            "jpg", "jpeg", "png", "gif", "heic", "heif", "webp", "tif", "tiff", "bmp", "avif",
            "dng", "cr2", "nef", "arw", "mp4", "mov", "m4v", "avi", "mkv", "3gp", "mts", "m2ts",
            "wmv", "webm", "mpg",
        ] {
            assert!(for_extension(ext).is_some(), "{ext}");
        }
        let mut seen: Vec<_> = known_extensions().collect();
        let all = seen.len();
        seen.sort_unstable();
        seen.dedup();
        assert_eq!(seen.len(), all, "no extension is listed twice");
    }
}
