//! The header and URL parsers of the upload protocol: `protocol::{status, number, text, token,
//! error_message}`, `retry::{retry_after, classify}` and `Endpoint::{parse, resolve, may_carry_token,
//! join}`, each checked against what its documentation promises.

use std::time::Duration;

use arbitrary::Arbitrary;
use gphotos_upload::retry::{self, Verdict};
use gphotos_upload::upload::protocol::{self, Status};
use gphotos_upload::{Endpoint, EndpointError, is_loopback};
use http::header::{HeaderMap, HeaderName, HeaderValue};
use http::{StatusCode, Uri};

/// The header names the core reads, plus any other.
#[derive(Arbitrary, Debug, Clone)]
pub enum Name {
    /// `X-Goog-Upload-Status`.
    Status,
    /// `X-Goog-Upload-Size-Received`.
    SizeReceived,
    /// `X-Goog-Upload-Chunk-Granularity`.
    Granularity,
    /// `X-Goog-Upload-URL`.
    Url,
    /// `X-GUploader-UploadID`.
    UploadId,
    /// `Retry-After`.
    RetryAfter,
    /// `Date`.
    Date,
    /// Any name (skipped when it is not a valid header name).
    Other(String),
}

impl Name {
    /// The header name, when it is one.
    pub fn header(&self) -> Option<HeaderName> {
        Some(match self {
            Self::Status => protocol::STATUS,
            Self::SizeReceived => protocol::SIZE_RECEIVED,
            Self::Granularity => protocol::GRANULARITY,
            Self::Url => protocol::URL,
            Self::UploadId => protocol::UPLOAD_ID,
            Self::RetryAfter => http::header::RETRY_AFTER,
            Self::Date => http::header::DATE,
            Self::Other(name) => HeaderName::from_bytes(name.as_bytes()).ok()?,
        })
    }
}

/// Appends `value` under `name`, as an HTTP library would hand it over: values it could not have
/// parsed (control characters) are left out.
pub fn append(headers: &mut HeaderMap, name: HeaderName, value: &[u8]) {
    if let Ok(value) = HeaderValue::from_bytes(value) {
        headers.append(name, value);
    }
}

/// One input of the `upload_headers` target.
#[derive(Arbitrary, Debug)]
pub struct Input {
    /// Reply headers, in order (repeats allowed).
    pub headers: Vec<(Name, Vec<u8>)>,
    /// A reply status code (mapped into 100..=999).
    pub status: u16,
    /// A reply body.
    pub body: Vec<u8>,
    /// An API root as a user would type it.
    pub root: String,
    /// A session URL as a server would send it.
    pub location: String,
    /// A URL a request could go to.
    pub target: String,
    /// A path joined under the root.
    pub relative: String,
}

/// Runs every parser over `input` and checks its promises.
pub fn run(input: &Input) {
    let mut headers = HeaderMap::new();
    for (name, value) in &input.headers {
        if let Some(name) = name.header() {
            append(&mut headers, name, value);
        }
    }
    check_status(&headers);
    for name in [
        protocol::SIZE_RECEIVED,
        protocol::GRANULARITY,
        http::header::RETRY_AFTER,
    ] {
        check_number(&headers, &name);
    }
    for name in [protocol::URL, protocol::UPLOAD_ID, http::header::DATE] {
        if let Some(text) = protocol::text(&headers, &name) {
            assert_eq!(text, text.trim(), "text() trims");
        }
    }
    check_token(&input.body);
    check_error_message(&input.body);
    check_retry_after(&headers);
    let code = 100 + input.status % 900;
    let status = StatusCode::from_u16(code).expect("100..=999 is a valid status");
    check_classify(status, &input.body);
    check_endpoint(input);
}

fn first_text(headers: &HeaderMap, name: &HeaderName) -> Option<String> {
    headers
        .get(name)
        .map(|v| v.to_str().unwrap_or_default().trim().to_owned())
}

fn check_status(headers: &HeaderMap) {
    let got = protocol::status(headers);
    let Some(text) = first_text(headers, &protocol::STATUS) else {
        assert_eq!(got, Ok(None), "an absent status is None");
        return;
    };
    let expected = match text.to_ascii_lowercase().as_str() {
        "active" => Some(Status::Active),
        "final" => Some(Status::Final),
        "cancelled" => Some(Status::Cancelled),
        _ => None,
    };
    match (got, expected) {
        (Ok(Some(status)), Some(want)) => assert_eq!(status, want),
        (Err(detail), None) => assert!(detail.len() < 400, "error detail is bounded"),
        (got, want) => panic!("status({text:?}) = {got:?}, expected {want:?}"),
    }
}

fn check_number(headers: &HeaderMap, name: &HeaderName) {
    let got = protocol::number(headers, name);
    let Some(text) = first_text(headers, name) else {
        assert_eq!(got, Ok(None));
        return;
    };
    match got {
        Ok(Some(n)) => {
            let digits = text.strip_prefix('+').unwrap_or(&text);
            assert!(digits.bytes().all(|b| b.is_ascii_digit()), "{text:?}");
            assert_eq!(digits.trim_start_matches('0'), {
                let s = n.to_string();
                if n == 0 { String::new() } else { s }
            });
        }
        Ok(None) => panic!("a present header read as absent: {text:?}"),
        Err(detail) => {
            assert!(text.parse::<u64>().is_err(), "{text:?} refused");
            assert!(detail.len() < 500, "error detail is bounded");
        }
    }
}

fn check_token(body: &[u8]) {
    if let Some(token) = protocol::token(body) {
        let text = token.expose();
        assert!(!text.is_empty() && text.len() <= 8192);
        assert!(text.bytes().all(|b| b.is_ascii_graphic()));
        let whole = std::str::from_utf8(body).expect("a token comes from text");
        assert_eq!(whole.trim(), text, "the token is the trimmed body");
        assert_eq!(format!("{token:?}"), "UploadToken(<redacted>)");
    }
}

fn check_error_message(body: &[u8]) {
    let message = protocol::error_message(body);
    assert!(
        message.chars().count() <= 200,
        "error messages are shortened: {} chars",
        message.chars().count()
    );
}

fn check_retry_after(headers: &HeaderMap) {
    let Some(wait) = retry::retry_after(headers) else {
        return;
    };
    let text = first_text(headers, &http::header::RETRY_AFTER).expect("a wait needs the header");
    if let Ok(seconds) = text.parse::<u64>() {
        assert_eq!(wait, Duration::from_secs(seconds));
    } else {
        assert!(
            headers.contains_key(http::header::DATE),
            "an HTTP-date wait is measured against the reply's Date"
        );
    }
}

fn check_classify(status: StatusCode, body: &[u8]) {
    let verdict = retry::classify(status, body);
    match status.as_u16() {
        200..=299 => assert_eq!(verdict, Verdict::Success),
        401 => assert_eq!(verdict, Verdict::Unauthorized),
        429 => assert!(matches!(
            verdict,
            Verdict::DailyQuota | Verdict::Transient { throttled: true }
        )),
        408 | 500 | 502 | 503 | 504 => {
            assert_eq!(verdict, Verdict::Transient { throttled: false });
        }
        _ => assert_eq!(verdict, Verdict::Permanent),
    }
}

/// The origin policy, restated: a token goes to the root's own origin, or to Google's
/// `*.googleapis.com` over https when the root is Google's.
fn may_carry(root: &Uri, google: bool, target: &Uri) -> bool {
    let (Some(scheme), Some(authority)) = (target.scheme(), target.authority()) else {
        return false;
    };
    let root_authority = root.authority().expect("a root has an authority");
    let port = |u: &Uri| u.port_u16();
    if Some(scheme) == root.scheme()
        && authority.host().eq_ignore_ascii_case(root_authority.host())
        && port(target) == port(root)
    {
        return true;
    }
    let host = authority.host().to_ascii_lowercase();
    google
        && scheme.as_str() == "https"
        && port(target).is_none_or(|p| p == 443)
        && host.ends_with(".googleapis.com")
        && host.len() > ".googleapis.com".len()
        && !host.ends_with("..googleapis.com")
}

fn check_endpoint(input: &Input) {
    let _ = is_loopback(&input.root);
    let endpoint = match Endpoint::parse(&input.root) {
        Ok(endpoint) => endpoint,
        Err(EndpointError::NotAUrl(_) | EndpointError::InsecureHost(_)) => {
            Endpoint::parse("http://127.0.0.1:9/v1/").expect("a loopback root")
        }
    };
    // A snapshot stores the root as text: it must read back as the same root.
    let text = endpoint.to_string();
    let again = Endpoint::parse(&text).unwrap_or_else(|e| panic!("{text:?} does not parse: {e}"));
    assert_eq!(again, endpoint, "the root survives its own Display");
    let root = endpoint.root();
    assert!(root.path().ends_with('/'), "a root ends with /");
    let scheme = root.scheme_str().expect("a root has a scheme");
    let host = root.host().expect("a root has a host");
    assert!(scheme == "https" || (scheme == "http" && is_loopback(host)));
    let _ = endpoint.join(&input.relative);
    assert!(endpoint.may_carry_token(&endpoint.join("uploads")));

    match endpoint.resolve(&input.location) {
        Ok(uri) => {
            let scheme = uri.scheme_str().expect("a resolved URL is absolute");
            let host = uri.host().expect("a resolved URL has a host");
            assert!(
                scheme == "https" || (scheme == "http" && is_loopback(host)),
                "resolve gave {uri}"
            );
            // Snapshots store the session URL as text too.
            let again: Uri = uri.to_string().parse().expect("a URI survives Display");
            assert_eq!(again, uri);
            check_policy(&endpoint, &root, &uri);
        }
        Err(EndpointError::NotAUrl(_) | EndpointError::InsecureHost(_)) => {}
    }
    if let Ok(target) = input.target.parse::<Uri>() {
        check_policy(&endpoint, &root, &target);
    }
}

fn check_policy(endpoint: &Endpoint, root: &Uri, target: &Uri) {
    assert_eq!(
        endpoint.may_carry_token(target),
        may_carry(root, endpoint.is_google(), target),
        "origin policy for {target} under {root}"
    );
}
