//! The simple (raw) upload: a small file's bytes in one request, answered with an upload token.

use http::header::{CONTENT_LENGTH, CONTENT_TYPE, HeaderValue};
use http::{Method, Request, StatusCode};
use serde::{Deserialize, Serialize};

use super::{InvalidRequest, LibraryRequest, Resend, wire};
use crate::upload::protocol;
use crate::{Endpoint, MediaFile, Payload, UploadToken};

/// `POST {base}uploads` with `X-Goog-Upload-Protocol: raw` and the whole file as the body
/// (`Payload::Range { offset: 0, len: size }`); the reply body is the upload token.
///
/// One request instead of the resumable protocol's two or more, at the price of re-sending the
/// whole file after a fault, so it suits files that fit in one chunk. Safe to repeat: a second
/// upload only makes a second token, which expires unused.
///
/// ```
/// use gphotos_upload::library::{LibraryRequest, SimpleUpload};
/// use gphotos_upload::{Endpoint, MediaFile, Payload};
///
/// let file = MediaFile { size: 1000, mime_type: "image/png".into(), file_name: Some("a.png".into()) };
/// let request = SimpleUpload::new(&file)?.to_request(&Endpoint::google());
/// assert_eq!(request.headers()["x-goog-upload-protocol"], "raw");
/// assert_eq!(request.body(), &Payload::Range { offset: 0, len: 1000 });
/// # Ok::<(), gphotos_upload::library::InvalidRequest>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SimpleUpload {
    file: MediaFile,
}

impl SimpleUpload {
    /// An upload of `file`. Its name is sent only when it is ASCII (the header allows no more).
    ///
    /// # Errors
    /// [`InvalidRequest::EmptyFile`] for a zero-byte file (no request is ever sent for it) and
    /// [`InvalidRequest::BadMimeType`] when the MIME type cannot be sent in a header.
    pub fn new(file: &MediaFile) -> Result<Self, InvalidRequest> {
        if file.size == 0 {
            return Err(InvalidRequest::EmptyFile);
        }
        if file.mime_type.trim().is_empty() || HeaderValue::from_str(&file.mime_type).is_err() {
            return Err(InvalidRequest::BadMimeType);
        }
        Ok(Self { file: file.clone() })
    }

    /// The file to upload.
    pub fn file(&self) -> &MediaFile {
        &self.file
    }
}

impl LibraryRequest for SimpleUpload {
    type Output = UploadToken;

    fn resend(&self) -> Resend {
        Resend::Safe
    }

    fn to_request(&self, endpoint: &Endpoint) -> Request<Payload> {
        let payload = Payload::Range {
            offset: 0,
            len: self.file.size,
        };
        let mime = HeaderValue::from_str(&self.file.mime_type)
            .unwrap_or_else(|_| HeaderValue::from_static("application/octet-stream"));
        let mut builder = Request::builder()
            .method(Method::POST)
            .uri(endpoint.join("uploads"))
            .header(CONTENT_LENGTH, HeaderValue::from(payload.len()))
            .header(
                CONTENT_TYPE,
                HeaderValue::from_static("application/octet-stream"),
            )
            .header(protocol::PROTOCOL, HeaderValue::from_static("raw"))
            .header(protocol::CONTENT_TYPE, mime);
        if let Some(name) = self.file.file_name.as_deref().filter(|n| n.is_ascii())
            && let Ok(value) = HeaderValue::from_str(name)
        {
            builder = builder.header(protocol::FILE_NAME, value);
        }
        wire::build(builder, payload)
    }

    fn parse_reply(&self, _status: StatusCode, body: &[u8]) -> Result<UploadToken, String> {
        protocol::token(body).ok_or_else(|| "the reply holds no upload token".to_owned())
    }
}
