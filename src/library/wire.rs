//! Building Library requests: JSON bodies, path segments for ids, and reading JSON replies.

use std::fmt::Write as _;

use http::header::{CONTENT_LENGTH, CONTENT_TYPE, HeaderValue};
use http::{Method, Request, Uri};

use super::{IdKind, InvalidRequest};
use crate::Payload;

/// Longest id accepted; Google's ids are about a hundred characters, and anything far longer is a
/// mistake that would make an unwieldy URL.
const MAX_ID_LEN: usize = 2048;

/// Checks an id given by the caller: not empty, not absurdly long, and not a dot segment (which a
/// server could resolve to another path even when percent-encoded as is).
pub(super) fn check_id(id: &str, kind: IdKind, item: Option<usize>) -> Result<(), InvalidRequest> {
    if id.is_empty() || id.len() > MAX_ID_LEN || id == "." || id == ".." {
        return Err(InvalidRequest::BadId { kind, item });
    }
    Ok(())
}

/// The id as one path segment: everything but RFC 3986 unreserved characters is percent-encoded,
/// so `/`, `?`, `#` or `:` in an id can never change which resource is addressed.
pub(super) fn segment(id: &str) -> String {
    let mut out = String::with_capacity(id.len());
    for byte in id.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            // Writing to a String cannot fail.
            let _ = write!(out, "%{byte:02X}");
        }
    }
    out
}

/// A `POST` of a JSON body.
pub(super) fn post_json(uri: Uri, json: &serde_json::Value) -> Request<Payload> {
    // Serializing a `Value` cannot fail: its keys are strings.
    let bytes = serde_json::to_vec(json).unwrap_or_default();
    let payload = Payload::Bytes(bytes);
    let builder = Request::builder()
        .method(Method::POST)
        .uri(uri)
        .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
        .header(CONTENT_LENGTH, HeaderValue::from(payload.len()));
    build(builder, payload)
}

/// A `GET` without a body.
pub(super) fn get(uri: Uri) -> Request<Payload> {
    let builder = Request::builder().method(Method::GET).uri(uri);
    build(builder, Payload::Empty)
}

pub(super) fn build(builder: http::request::Builder, payload: Payload) -> Request<Payload> {
    // Every part was checked: the URI is parsed, header values are built from typed values.
    builder
        .body(payload)
        .unwrap_or_else(|_| unreachable!("request parts are validated before building"))
}

/// The body as a JSON object.
///
/// # Errors
/// A description (without the body's content, which may hold tokens) when it is not one.
pub(super) fn json_object(
    body: &[u8],
) -> Result<serde_json::Map<String, serde_json::Value>, String> {
    match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(serde_json::Value::Object(map)) => Ok(map),
        Ok(_) => Err("the reply is JSON but not an object".into()),
        Err(e) => Err(format!(
            "the reply is not JSON (line {}, column {})",
            e.line(),
            e.column()
        )),
    }
}

/// A string field, when present and a string.
pub(super) fn text(map: &serde_json::Map<String, serde_json::Value>, key: &str) -> Option<String> {
    map.get(key).and_then(|v| v.as_str()).map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_cannot_escape_their_place() {
        assert_eq!(segment("AB-c_d.e~9"), "AB-c_d.e~9");
        assert_eq!(segment("a/b?c#d:e f"), "a%2Fb%3Fc%23d%3Ae%20f");
        assert_eq!(segment("é"), "%C3%A9");
        assert!(check_id("..", IdKind::Album, None).is_err());
        assert!(check_id("", IdKind::Album, None).is_err());
        assert!(check_id(&"x".repeat(MAX_ID_LEN + 1), IdKind::Album, None).is_err());
        assert!(check_id("AF1Qip", IdKind::Album, None).is_ok());
    }
}
