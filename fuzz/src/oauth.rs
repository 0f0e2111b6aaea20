//! The OAuth parsers: `token.json`, `client_secret.json`, the token endpoint's replies and the
//! loopback redirect. Besides "no panic", each checks what the files and flows promise: what we
//! write we read back unchanged, endpoints obey the origin policy, and no secret reaches an error
//! message, a `Debug` output, an authorization URL or the browser page.

use std::time::{Duration, SystemTime};

use arbitrary::Arbitrary;
use gphotos_upload::oauth::{
    Consent, OAuthClient, RedirectError, Scope, TokenExchange, TokenFile, format_expiry,
    parse_expiry,
};
use gphotos_upload::{AccessToken, ClientSecret, RefreshToken, is_loopback};
use http::header::HeaderMap;
use http::{Response, StatusCode, Uri};

use crate::headers::{Name, append};
use crate::json::Doc;

/// Secrets the harness plants; none may come out where it should not.
const OLD_ACCESS: &str = "ya29.OLD-ACCESS-TOKEN-0123456789";
const REFRESH: &str = "1//REFRESH-TOKEN-abcdefghijklmnop";
const CLIENT_SECRET: &str = "GOCSPX-CLIENT-SECRET-qrstuvwxyz";
const CODE: &str = "4/0AUTHORIZATION-CODE-ABCDEFGHIJ";

/// 2000-01-01T00:00:00Z: the harness's clocks count from there, so that every `now` is a plausible
/// date.
const EPOCH_2000: u64 = 946_684_800;

fn clock(seconds: u32) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(EPOCH_2000 + u64::from(seconds))
}

/// Whether `text` obeys the origin policy for OAuth endpoints: https, or http on loopback.
fn allowed_endpoint(text: &str) -> bool {
    let Ok(uri) = text.parse::<Uri>() else {
        return false;
    };
    match (uri.scheme_str(), uri.host()) {
        (Some("https"), Some(_)) => true,
        (Some("http"), Some(host)) => is_loopback(host),
        _ => false,
    }
}

/// Fails when `shown` holds one of `secrets` (each at least 8 characters, so that a match is not
/// chance).
fn assert_no_secret(shown: &str, secrets: &[&str], what: &str) {
    for secret in secrets.iter().filter(|s| s.len() >= 8) {
        assert!(!shown.contains(secret), "a secret in {what}: {shown}");
    }
}

// ---------------------------------------------------------------------------------------------
// token.json

const TOKEN_KEYS: &[&str] = &[
    "token",
    "refresh_token",
    "token_uri",
    "client_id",
    "client_secret",
    "scopes",
    "rapt_token",
    "universe_domain",
    "account",
    "expiry",
    "quota_project_id",
    "type",
    "installed",
    "web",
];

const TOKEN_TEXTS: &[&str] = &[
    OLD_ACCESS,
    REFRESH,
    CLIENT_SECRET,
    "https://oauth2.googleapis.com/token",
    "http://127.0.0.1:8080/token",
    "http://example.com/token",
    "https://user:pw@example.com/token",
    "",
    "authorized_user",
    "service_account",
    "id.apps.googleusercontent.com",
    "https://www.googleapis.com/auth/photoslibrary.appendonly",
    "https://www.googleapis.com/auth/photoslibrary.readonly.appcreateddata https://www.googleapis.com/auth/photoslibrary.edit.appcreateddata",
    "https://www.googleapis.com/auth/photoslibrary",
    "2025-01-02T03:04:05.123456Z",
    "2025-01-02T03:04:05Z",
    "2025-01-02T03:04:05",
    "2025-01-02T03:04:05.123456789Z",
    "0000-01-01T00:00:00Z",
    "9999-12-31T23:59:59.999999Z",
    "1969-12-31T23:59:59.5Z",
    "2024-02-29T00:00:00Z",
    "2023-02-29T00:00:00Z",
    "googleapis.com",
];

/// One input of the `token_json` target.
#[derive(Arbitrary, Debug)]
pub struct TokenJsonInput {
    doc: Doc,
    /// Seconds after 2000: when the file is used.
    now: u32,
    /// An `expiry` text on its own.
    expiry: String,
}

/// Reads a `token.json`, writes it back, refreshes from it.
pub fn token_json(input: &TokenJsonInput) {
    check_expiry_text(&input.expiry);
    let bytes = input.doc.bytes(TOKEN_KEYS, TOKEN_TEXTS);
    let file = match TokenFile::from_json(&bytes) {
        Ok(file) => file,
        // Errors quote `type` and `expiry`, which are not secrets (the fuzzer may put anything
        // there, planted secrets included), so only their presence is checked.
        Err(error) => {
            assert!(!error.to_string().is_empty());
            return;
        }
    };
    let written = file.to_json();
    assert!(
        written.is_ascii(),
        "google-auth's json.dumps escapes to ASCII"
    );
    let again = TokenFile::from_json(&written).unwrap_or_else(|e| {
        panic!(
            "what we write we cannot read ({e}): {}",
            String::from_utf8_lossy(&written)
        )
    });
    assert_eq!(
        again.to_json(),
        written,
        "writing a file read back changes it"
    );
    assert_eq!(again.token, file.token);
    assert_eq!(again.refresh_token, file.refresh_token);
    assert_eq!(again.client_secret, file.client_secret);
    assert_eq!(again.extra, file.extra, "unknown keys are kept");

    check_debug(&file);
    let now = clock(input.now);
    let _ = file.needs_refresh(now);
    if let Some(token) = file.access_token(now) {
        let expiry = file.expiry.expect("a usable token has an expiry");
        assert!(expiry > now, "a token handed out is not expired");
        assert_eq!(Some(token), file.token.as_ref());
    }
    let _ = file.photos_scopes();
    let _ = file.missing_scopes(&Scope::ALL);
    match TokenExchange::refresh(&file) {
        Ok(exchange) => {
            let request = exchange.request();
            assert!(
                allowed_endpoint(&request.uri().to_string()),
                "a refresh goes to {}",
                request.uri()
            );
            assert!(
                request.headers().get(http::header::AUTHORIZATION).is_none(),
                "token endpoint requests carry no bearer token"
            );
            let shown = format!("{exchange:?}");
            assert_no_secret(
                &shown,
                &[REFRESH, CLIENT_SECRET, OLD_ACCESS],
                "exchange Debug",
            );
        }
        Err(error) => assert!(!error.to_string().is_empty()),
    }
}

/// `Debug` must not depend on the secrets' values: the same file with other secrets prints the same.
fn check_debug(file: &TokenFile) {
    let mut other = file.clone();
    other.token = file.token.as_ref().map(|_| AccessToken::new("x"));
    other.refresh_token = file.refresh_token.as_ref().map(|_| RefreshToken::new("x"));
    other.client_secret = file.client_secret.as_ref().map(|_| ClientSecret::new("x"));
    other.rapt_token = file
        .rapt_token
        .as_ref()
        .map(|_| gphotos_upload::oauth::RaptToken::new("x"));
    assert_eq!(
        format!("{file:?}"),
        format!("{other:?}"),
        "TokenFile's Debug shows a secret"
    );
}

/// `parse_expiry` and `format_expiry` agree: what is parsed formats to a text that parses to the
/// same instant, to the microsecond.
fn check_expiry_text(text: &str) {
    let Some(time) = parse_expiry(text) else {
        return;
    };
    let written = format_expiry(time);
    let again = parse_expiry(&written)
        .unwrap_or_else(|| panic!("{text:?} parsed, but its formatting {written:?} does not"));
    let micros = |t: SystemTime| match t.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(d) => i128::from(d.as_secs()) * 1_000_000 + i128::from(d.subsec_micros()),
        Err(e) => {
            let d = e.duration();
            -(i128::from(d.as_secs()) * 1_000_000 + i128::from(d.subsec_nanos().div_ceil(1000)))
        }
    };
    assert_eq!(micros(again), micros(time), "{text:?} -> {written:?}");
    assert_eq!(format_expiry(again), written);
}

// ---------------------------------------------------------------------------------------------
// client_secret.json

const CLIENT_KEYS: &[&str] = &[
    "installed",
    "web",
    "client_id",
    "client_secret",
    "auth_uri",
    "token_uri",
    "redirect_uris",
    "project_id",
    "auth_provider_x509_cert_url",
    "type",
    "private_key",
    "refresh_token",
];

const CLIENT_TEXTS: &[&str] = &[
    "id.apps.googleusercontent.com",
    CLIENT_SECRET,
    "https://accounts.google.com/o/oauth2/auth",
    "https://oauth2.googleapis.com/token",
    "http://localhost",
    "http://127.0.0.1:9/auth?x=1",
    "http://[::1]:9/token",
    "http://example.com/token",
    "https://u@example.com/token",
    "https://example.com/a#b",
    "ftp://example.com/",
    "",
    "service_account",
    "authorized_user",
];

/// One input of the `client_secret_json` target.
#[derive(Arbitrary, Debug)]
pub struct ClientSecretInput {
    doc: Doc,
    port: u16,
    scopes: Vec<u8>,
}

/// Reads a `client_secret.json` and prepares a consent with it.
pub fn client_secret_json(input: &ClientSecretInput) {
    let bytes = input.doc.bytes(CLIENT_KEYS, CLIENT_TEXTS);
    let client = match OAuthClient::from_json(&bytes) {
        Ok(client) => client,
        Err(error) => {
            let shown = error.to_string();
            assert!(!shown.is_empty());
            assert_no_secret(&shown, &[CLIENT_SECRET], "a client secret error");
            return;
        }
    };
    assert!(!client.client_id().is_empty());
    assert!(!client.client_secret().expose().is_empty());
    for uri in [client.auth_uri(), client.token_uri()] {
        assert!(
            allowed_endpoint(uri),
            "an OAuth endpoint breaks the origin policy: {uri}"
        );
        assert!(!uri.contains('@'), "credentials in an endpoint URL: {uri}");
    }
    let secret = client.client_secret().expose();
    let public = format!(
        "{} {} {} {:?}",
        client.client_id(),
        client.auth_uri(),
        client.token_uri(),
        client.redirect_uris()
    );
    // Short secrets, or "redacted", could match the placeholder or a field name by chance.
    let distinctive =
        secret.len() >= 12 && !public.contains(secret) && !secret.contains("redacted");
    if distinctive {
        assert!(
            !format!("{client:?}").contains(secret),
            "the client secret in Debug"
        );
    }
    let scopes: Vec<Scope> = input
        .scopes
        .iter()
        .map(|i| Scope::ALL[usize::from(*i) % Scope::ALL.len()])
        .collect();
    match Consent::new(&client, input.port, &scopes, [7; 32], [9; 32]) {
        Ok(consent) => {
            assert!(!scopes.is_empty());
            let url = consent.authorization_url();
            assert!(url.starts_with(client.auth_uri()));
            if distinctive {
                assert!(
                    !url.contains(secret),
                    "the client secret in the consent URL"
                );
            }
            assert!(
                url.contains("code_challenge_method=S256"),
                "PKCE is always on: {url}"
            );
        }
        Err(_) => assert!(scopes.is_empty(), "a consent with scopes is refused"),
    }
}

// ---------------------------------------------------------------------------------------------
// The token endpoint's reply

const REPLY_KEYS: &[&str] = &[
    "access_token",
    "expires_in",
    "refresh_token",
    "scope",
    "token_type",
    "id_token",
    "error",
    "error_description",
    "error_uri",
];

const REPLY_TEXTS: &[&str] = &[
    "ya29.NEW-ACCESS",
    "Bearer",
    "bearer",
    "MAC",
    "3599",
    "-1",
    "1e400",
    "invalid_grant",
    "invalid_client",
    "unauthorized_client",
    "invalid_request",
    "server_error",
    "temporarily_unavailable",
    "Token has been expired or revoked.",
    "https://www.googleapis.com/auth/photoslibrary.appendonly",
    "",
    OLD_ACCESS,
    REFRESH,
    CLIENT_SECRET,
    CODE,
];

/// One input of the `token_reply` target.
#[derive(Arbitrary, Debug)]
pub struct TokenReplyInput {
    /// A code exchange rather than a refresh.
    code_exchange: bool,
    /// Planted in the old token file.
    rapt: bool,
    status: u16,
    headers: Vec<(Name, Vec<u8>)>,
    body: Doc,
    /// Seconds after 2000.
    now: u32,
}

fn refreshable(rapt: bool) -> TokenFile {
    let mut text = format!(
        r#"{{"token": "{OLD_ACCESS}", "refresh_token": "{REFRESH}", "client_id": "id.apps.googleusercontent.com",
        "client_secret": "{CLIENT_SECRET}", "token_uri": "https://oauth2.googleapis.com/token",
        "scopes": ["https://www.googleapis.com/auth/photoslibrary.appendonly"], "expiry": "2025-01-02T03:04:05Z""#
    );
    if rapt {
        text.push_str(r#", "rapt_token": "RAPT-TOKEN-SECRET-0123456789""#);
    }
    text.push('}');
    TokenFile::from_json(text.as_bytes()).expect("the harness's token file reads")
}

fn consent() -> Consent {
    let client = OAuthClient::installed(
        "id.apps.googleusercontent.com",
        ClientSecret::new(CLIENT_SECRET),
    );
    Consent::new(&client, 53_682, &[Scope::AppendOnly], [7; 32], [9; 32])
        .expect("a consent with a scope")
}

/// Hands an arbitrary reply to a refresh or a code exchange.
pub fn token_reply(input: &TokenReplyInput) {
    let base = refreshable(input.rapt);
    let exchange = if input.code_exchange {
        consent().exchange(&gphotos_upload::oauth::AuthorizationCode::new(CODE))
    } else {
        TokenExchange::refresh(&base).expect("the harness's file is refreshable")
    };
    let status = StatusCode::from_u16(100 + input.status % 900).expect("100..=999");
    let mut headers = HeaderMap::new();
    for (name, value) in &input.headers {
        if let Some(name) = name.header() {
            append(&mut headers, name, value);
        }
    }
    let body = input.body.bytes(REPLY_KEYS, REPLY_TEXTS);
    let mut response = Response::new(body);
    *response.status_mut() = status;
    *response.headers_mut() = headers;
    let now = clock(input.now);
    let secrets = [
        OLD_ACCESS,
        REFRESH,
        CLIENT_SECRET,
        CODE,
        "RAPT-TOKEN-SECRET-0123456789",
    ];
    match exchange.handle_response(now, &response) {
        Ok(file) => {
            assert!(status.is_success(), "a token from HTTP {status}");
            let token = file.token.as_ref().expect("a new access token");
            assert!(!token.expose().is_empty());
            let expiry = file.expiry.expect("a new token has an expiry");
            assert!(expiry >= now, "a new token expires in the past");
            assert!(
                expiry <= now + Duration::from_secs(24 * 3600),
                "a lifetime beyond a day"
            );
            assert!(
                file.refresh_token.is_some(),
                "a refreshed file keeps a refresh token"
            );
            if !input.code_exchange {
                assert_eq!(file.client_id, base.client_id);
                assert_eq!(file.client_secret, base.client_secret);
                assert_eq!(file.token_uri, base.token_uri);
            }
            // The file to save must read back.
            let written = file.to_json();
            let again = TokenFile::from_json(&written).unwrap_or_else(|e| {
                panic!(
                    "a refreshed token file does not read back ({e}): {}",
                    String::from_utf8_lossy(&written)
                )
            });
            assert_eq!(again.to_json(), written);
        }
        Err(error) => {
            let shown = error.to_string();
            assert_no_secret(&shown, &secrets, "a token endpoint error");
            assert_no_secret(
                &format!("{error:?}"),
                &secrets,
                "a token endpoint error's Debug",
            );
            if matches!(status.as_u16(), 408 | 429 | 500 | 502 | 503 | 504) {
                assert!(
                    error.is_retryable(),
                    "HTTP {status} is retryable: {error:?}"
                );
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The loopback redirect

/// One input of the `redirect` target.
#[derive(Arbitrary, Debug)]
pub enum RedirectInput {
    /// A request target built from parts.
    Parts {
        /// Absolute-form prefix, if any.
        prefix: Prefix,
        /// The path.
        path: Path,
        /// Query parameters.
        params: Vec<(Param, Value)>,
        /// A fragment.
        fragment: Option<String>,
    },
    /// Any text.
    Raw(String),
}

/// How the target starts.
#[derive(Arbitrary, Debug)]
pub enum Prefix {
    /// Origin-form.
    None,
    /// `http://127.0.0.1:53682`.
    Loopback,
    /// `https://evil.example`.
    Other,
    /// Anything.
    Any(String),
}

/// The path of the target.
#[derive(Arbitrary, Debug)]
pub enum Path {
    /// `/`.
    Root,
    /// Nothing.
    Empty,
    /// `/favicon.ico`.
    Favicon,
    /// Anything.
    Any(String),
}

/// A parameter name.
#[derive(Arbitrary, Debug)]
pub enum Param {
    /// `code`.
    Code,
    /// `state`.
    State,
    /// `error`.
    Error,
    /// `error_description`.
    Description,
    /// `scope`.
    Scope,
    /// Anything (percent-encoded).
    Any(String),
}

/// A parameter value.
#[derive(Arbitrary, Debug)]
pub enum Value {
    /// Our state.
    OurState,
    /// Our state, percent-encoded byte by byte.
    OurStateEncoded,
    /// The planted code.
    Code,
    /// `access_denied`.
    AccessDenied,
    /// Anything, percent-encoded.
    Encoded(String),
    /// Anything, as is.
    Verbatim(String),
}

fn encode(text: &str) -> String {
    let mut out = String::new();
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// Feeds a request target to `Consent::parse_redirect` and answers the browser.
pub fn redirect(input: &RedirectInput) {
    let consent = consent();
    let url = consent.authorization_url();
    let state = url
        .split("state=")
        .nth(1)
        .and_then(|rest| rest.split('&').next())
        .expect("the consent URL has a state")
        .to_owned();
    let mut state_given = false;
    let target = match input {
        RedirectInput::Raw(text) => {
            state_given = text.contains(&state) || text.contains('%');
            text.clone()
        }
        RedirectInput::Parts {
            prefix,
            path,
            params,
            fragment,
        } => {
            let mut target = match prefix {
                Prefix::None => String::new(),
                Prefix::Loopback => "http://127.0.0.1:53682".to_owned(),
                Prefix::Other => "https://evil.example".to_owned(),
                Prefix::Any(text) => text.clone(),
            };
            target.push_str(match path {
                Path::Root => "/",
                Path::Empty => "",
                Path::Favicon => "/favicon.ico",
                Path::Any(text) => text,
            });
            for (i, (param, value)) in params.iter().enumerate() {
                target.push(if i == 0 { '?' } else { '&' });
                target.push_str(&match param {
                    Param::Code => "code".to_owned(),
                    Param::State => "state".to_owned(),
                    Param::Error => "error".to_owned(),
                    Param::Description => "error_description".to_owned(),
                    Param::Scope => "scope".to_owned(),
                    Param::Any(text) => encode(text),
                });
                target.push('=');
                target.push_str(&match value {
                    Value::OurState => {
                        state_given = true;
                        state.clone()
                    }
                    Value::OurStateEncoded => {
                        state_given = true;
                        state.bytes().map(|b| format!("%{b:02x}")).collect()
                    }
                    Value::Code => CODE.to_owned(),
                    Value::AccessDenied => "access_denied".to_owned(),
                    Value::Encoded(text) => {
                        state_given |= text == &state;
                        encode(text)
                    }
                    Value::Verbatim(text) => {
                        state_given |= text.contains(&state) || text.contains('%');
                        text.clone()
                    }
                });
            }
            if let Some(fragment) = fragment {
                target.push('#');
                target.push_str(fragment);
            }
            if matches!(prefix, Prefix::Any(_)) || matches!(path, Path::Any(_)) {
                state_given |= target.contains(&state) || target.contains('%');
            }
            target
        }
    };
    let outcome = consent.parse_redirect(&target);
    match &outcome {
        Ok(code) => {
            assert!(state_given, "a code accepted without our state: {target:?}");
            assert!(!code.expose().is_empty());
            let request = consent.exchange(code).request();
            assert_eq!(
                request.uri().to_string(),
                gphotos_upload::oauth::DEFAULT_TOKEN_URI,
                "the code travels in the body, not the URL"
            );
            assert!(!request.body().is_empty());
        }
        Err(RedirectError::AccessDenied | RedirectError::Authorization { .. }) => {
            assert!(
                state_given,
                "an error believed without our state: {target:?}"
            );
        }
        Err(_) => {}
    }
    let page = Consent::browser_reply(&outcome);
    assert_eq!(page.status() == StatusCode::OK, outcome.is_ok());
    let body = String::from_utf8(page.body().clone()).expect("the page is UTF-8");
    // The page's own markup has a fixed number of tags: text from the request must be escaped.
    let template = Consent::browser_reply(&Err(RedirectError::StateMismatch));
    let tags = |text: &str| text.matches('<').count();
    let template_tags = tags(&String::from_utf8_lossy(template.body()));
    assert_eq!(
        tags(&body),
        template_tags,
        "markup injected into the page: {body}"
    );
    if let Ok(code) = &outcome {
        if code.expose().len() >= 8 {
            assert!(!body.contains(code.expose()), "the code on the page");
        }
    }
    assert_no_secret(&body, &[CLIENT_SECRET], "the browser page");
}
