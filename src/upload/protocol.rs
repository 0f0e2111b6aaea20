//! The wire format of Google's resumable upload protocol: header names, request builders and reply
//! parsing. No decisions are made here.

use http::header::{CONTENT_LENGTH, HeaderMap, HeaderName, HeaderValue};
use http::{Method, Request, Uri};

use crate::Payload;

/// `X-Goog-Upload-Protocol`: `resumable` or `raw`.
pub const PROTOCOL: HeaderName = HeaderName::from_static("x-goog-upload-protocol");
/// `X-Goog-Upload-Command`: `start`, `upload`, `upload, finalize`, `query`, `cancel`.
pub const COMMAND: HeaderName = HeaderName::from_static("x-goog-upload-command");
/// `X-Goog-Upload-Raw-Size`: the total size declared at start.
pub const RAW_SIZE: HeaderName = HeaderName::from_static("x-goog-upload-raw-size");
/// `X-Goog-Upload-Content-Type`: the media's MIME type.
pub const CONTENT_TYPE: HeaderName = HeaderName::from_static("x-goog-upload-content-type");
/// `X-Goog-Upload-File-Name`: optional, ASCII only.
pub const FILE_NAME: HeaderName = HeaderName::from_static("x-goog-upload-file-name");
/// `X-Goog-Upload-Offset`: absolute offset of a chunk.
pub const OFFSET: HeaderName = HeaderName::from_static("x-goog-upload-offset");
/// `X-Goog-Upload-URL`: the session URL in the start reply.
pub const URL: HeaderName = HeaderName::from_static("x-goog-upload-url");
/// `X-Goog-Upload-Chunk-Granularity`: chunks other than the last are multiples of it.
pub const GRANULARITY: HeaderName = HeaderName::from_static("x-goog-upload-chunk-granularity");
/// `X-Goog-Upload-Status`: `active`, `final` or `cancelled`.
pub const STATUS: HeaderName = HeaderName::from_static("x-goog-upload-status");
/// `X-Goog-Upload-Size-Received`: bytes the server holds, in a query reply.
pub const SIZE_RECEIVED: HeaderName = HeaderName::from_static("x-goog-upload-size-received");
/// `X-GUploader-UploadID`: the server's id of the upload, safe to log.
pub const UPLOAD_ID: HeaderName = HeaderName::from_static("x-guploader-uploadid");

/// The session status a reply reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Bytes are still welcome.
    Active,
    /// Finalized: the upload token is (or was) in a body.
    Final,
    /// Cancelled; the session is dead.
    Cancelled,
}

/// The `X-Goog-Upload-Status` of a reply: `None` when absent.
///
/// # Errors
/// A description of the value when it is not a status this protocol knows.
pub fn status(headers: &HeaderMap) -> Result<Option<Status>, String> {
    let Some(value) = headers.get(STATUS) else {
        return Ok(None);
    };
    let text = value.to_str().unwrap_or_default().trim();
    if text.eq_ignore_ascii_case("active") {
        Ok(Some(Status::Active))
    } else if text.eq_ignore_ascii_case("final") {
        Ok(Some(Status::Final))
    } else if text.eq_ignore_ascii_case("cancelled") {
        Ok(Some(Status::Cancelled))
    } else {
        Err(format!("unknown X-Goog-Upload-Status {:?}", shorten(text)))
    }
}

/// A numeric header: `None` when absent.
///
/// # Errors
/// A description of the value when it is not a decimal `u64`.
pub fn number(headers: &HeaderMap, name: &HeaderName) -> Result<Option<u64>, String> {
    let Some(value) = headers.get(name) else {
        return Ok(None);
    };
    let text = value.to_str().unwrap_or_default().trim();
    text.parse::<u64>()
        .map(Some)
        .map_err(|_| format!("{name} is not a number: {:?}", shorten(text)))
}

/// A text header, `None` when absent or not visible ASCII.
pub fn text<'h>(headers: &'h HeaderMap, name: &HeaderName) -> Option<&'h str> {
    headers.get(name)?.to_str().ok().map(str::trim)
}

/// The upload token in a final reply's body: `None` when the body is empty or not plain text.
pub fn token(body: &[u8]) -> Option<crate::UploadToken> {
    let text = std::str::from_utf8(body).ok()?.trim();
    let plausible =
        !text.is_empty() && text.len() <= 8192 && text.bytes().all(|b| b.is_ascii_graphic());
    plausible.then(|| crate::UploadToken::new(text))
}

/// The server's explanation in an error body: Google's JSON `error.message`, or the start of a text
/// body. Error bodies never hold tokens, unlike success bodies.
pub fn error_message(body: &[u8]) -> String {
    if let Ok(json) = serde_json::from_slice::<serde_json::Value>(body)
        && let Some(message) = json.pointer("/error/message").and_then(|m| m.as_str())
    {
        return shorten(message).to_owned();
    }
    let text = String::from_utf8_lossy(&body[..body.len().min(200)]);
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn shorten(text: &str) -> &str {
    match text.char_indices().nth(200) {
        Some((end, _)) => &text[..end],
        None => text,
    }
}

fn post(uri: Uri, payload: &Payload) -> http::request::Builder {
    Request::builder()
        .method(Method::POST)
        .uri(uri)
        .header(CONTENT_LENGTH, HeaderValue::from(payload.len()))
}

/// The start request. `file_name` is sent only when it is a valid ASCII header value.
pub fn start(
    uri: Uri,
    size: u64,
    mime_type: &HeaderValue,
    file_name: Option<&str>,
) -> Request<Payload> {
    let mut builder = post(uri, &Payload::Empty)
        .header(PROTOCOL, HeaderValue::from_static("resumable"))
        .header(COMMAND, HeaderValue::from_static("start"))
        .header(RAW_SIZE, HeaderValue::from(size))
        .header(CONTENT_TYPE, mime_type.clone());
    if let Some(name) = file_name.filter(|n| n.is_ascii())
        && let Ok(value) = HeaderValue::from_str(name)
    {
        builder = builder.header(FILE_NAME, value);
    }
    build(builder, Payload::Empty)
}

/// One chunk: `upload` or, for the last, `upload, finalize`.
pub fn chunk(uri: Uri, offset: u64, len: u64, finalize: bool) -> Request<Payload> {
    let payload = Payload::Range { offset, len };
    let command = if finalize {
        "upload, finalize"
    } else {
        "upload"
    };
    let builder = post(uri, &payload)
        .header(COMMAND, HeaderValue::from_static(command))
        .header(OFFSET, HeaderValue::from(offset));
    build(builder, payload)
}

/// A `query` or `cancel` command.
pub fn command(uri: Uri, command: &'static str) -> Request<Payload> {
    let builder = post(uri, &Payload::Empty).header(COMMAND, HeaderValue::from_static(command));
    build(builder, Payload::Empty)
}

fn build(builder: http::request::Builder, payload: Payload) -> Request<Payload> {
    // Every part was checked: the URI is parsed, header values are built from typed values.
    builder
        .body(payload)
        .unwrap_or_else(|_| unreachable!("request parts are validated before building"))
}
