//! Token files: refreshed before expiry and on a refusal, written back atomically and privately.

mod support;

use std::io::Cursor;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use gphotos_upload_ureq::oauth::{Exchanger, load_token_file};
use gphotos_upload_ureq::{Client, Credentials, Endpoint, Error, RetryPolicy, Timeouts};
use support::{Fake, Reply, Server, pattern};

fn quick_retry() -> RetryPolicy {
    RetryPolicy {
        initial: Duration::from_millis(5),
        max_delay: Duration::from_millis(20),
        throttle_floor: Duration::from_millis(5),
        max_attempts: 2,
        max_elapsed: Duration::from_secs(10),
    }
}

fn exchanger() -> Exchanger {
    Exchanger::new(quick_retry(), Timeouts::uniform(Duration::from_secs(5)))
}

fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir =
        std::env::temp_dir().join(format!("gphotos-ureq-oauth-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn token_json(token_uri: &str, token: &str, expiry: &str) -> String {
    format!(
        r#"{{"token": "{token}", "refresh_token": "1//refresh", "token_uri": "{token_uri}",
            "client_id": "client", "client_secret": "shh", "expiry": "{expiry}",
            "custom_key": {{"kept": true}}}}"#
    )
}

/// A server that issues `fresh-N` tokens at `/token` and accepts only the latest one elsewhere.
fn api_with_token_endpoint() -> (Server, Arc<Mutex<Fake>>, Arc<Mutex<u32>>) {
    let fake = Arc::new(Mutex::new(Fake::new(1024)));
    let issued = Arc::new(Mutex::new(0u32));
    let (shared, count) = (Arc::clone(&fake), Arc::clone(&issued));
    let server = Server::start(move |seen| {
        if seen.path == "/token" {
            let body = String::from_utf8_lossy(&seen.body).into_owned();
            assert!(body.contains("grant_type=refresh_token"), "{body}");
            assert!(
                seen.header("authorization").is_none(),
                "no bearer to the token endpoint"
            );
            let mut count = count.lock().unwrap();
            *count += 1;
            let reply = format!(
                r#"{{"access_token": "fresh-{}", "expires_in": 3600, "token_type": "Bearer"}}"#,
                *count
            );
            return Reply::ok(&[("content-type", "application/json")], reply.as_bytes());
        }
        let latest = format!("Bearer fresh-{}", *count.lock().unwrap());
        if seen.header("authorization") != Some(latest.as_str()) {
            return Reply::status(401, &[], b"{}");
        }
        shared.lock().unwrap().handle(seen)
    });
    (server, fake, issued)
}

#[test]
fn an_expired_token_is_refreshed_before_use_and_saved_privately() {
    let (server, fake, issued) = api_with_token_endpoint();
    let dir = temp_dir("expired");
    let path = dir.join("token.json");
    let token_uri = format!("http://{}/token", server.addr);
    std::fs::write(&path, token_json(&token_uri, "old", "2020-01-01T00:00:00Z")).unwrap();

    let credentials = Credentials::token_file_with(&path, exchanger()).unwrap();
    let client = Client::builder(Endpoint::parse(&server.url()).unwrap(), credentials)
        .chunk_size(2048)
        .retry(quick_retry())
        .build()
        .unwrap();
    let data = pattern(5000);
    let token = client
        .upload_reader(Cursor::new(&data), 5000, "image/jpeg", None)
        .unwrap();
    assert_eq!(
        fake.lock().unwrap().stored(token.expose()),
        Some(data.as_slice())
    );
    assert_eq!(
        *issued.lock().unwrap(),
        1,
        "one refresh serves the whole upload"
    );

    let saved = load_token_file(&path).unwrap();
    assert_eq!(
        saved
            .token
            .as_ref()
            .map(gphotos_upload_ureq::AccessToken::expose),
        Some("fresh-1")
    );
    assert_eq!(
        saved
            .refresh_token
            .as_ref()
            .map(gphotos_upload::RefreshToken::expose),
        Some("1//refresh")
    );
    assert!(
        saved.extra.contains_key("custom_key"),
        "unknown keys survive"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let leftovers: Vec<_> = std::fs::read_dir(&dir).unwrap().collect();
    assert_eq!(leftovers.len(), 1, "no temporary file left behind");
}

#[test]
fn a_refused_token_is_refreshed_once_and_the_upload_goes_on() {
    let (server, fake, issued) = api_with_token_endpoint();
    let dir = temp_dir("refused");
    let path = dir.join("token.json");
    let token_uri = format!("http://{}/token", server.addr);
    // Valid by its expiry, but the server no longer takes it.
    std::fs::write(
        &path,
        token_json(&token_uri, "revoked", "2999-01-01T00:00:00Z"),
    )
    .unwrap();
    let credentials = Credentials::token_file_with(&path, exchanger()).unwrap();
    let client = Client::builder(Endpoint::parse(&server.url()).unwrap(), credentials)
        .retry(quick_retry())
        .build()
        .unwrap();
    let data = pattern(3000);
    let token = client
        .upload_reader(Cursor::new(&data), 3000, "video/mp4", None)
        .unwrap();
    assert_eq!(
        fake.lock().unwrap().stored(token.expose()),
        Some(data.as_slice())
    );
    assert_eq!(*issued.lock().unwrap(), 1);
    let saved = load_token_file(&path).unwrap();
    assert_eq!(
        saved
            .token
            .as_ref()
            .map(gphotos_upload_ureq::AccessToken::expose),
        Some("fresh-1")
    );
}

#[test]
fn a_revoked_grant_says_to_sign_in_again_and_keeps_the_file() {
    let server = Server::start(|seen| {
        if seen.path == "/token" {
            return Reply::status(
                400,
                &[("content-type", "application/json")],
                br#"{"error": "invalid_grant", "error_description": "Token has been expired or revoked."}"#,
            );
        }
        Reply::status(401, &[], b"{}")
    });
    let dir = temp_dir("revoked");
    let path = dir.join("token.json");
    let original = token_json(
        &format!("http://{}/token", server.addr),
        "old",
        "2020-01-01T00:00:00Z",
    );
    std::fs::write(&path, &original).unwrap();
    let client = Client::new(
        Endpoint::parse(&server.url()).unwrap(),
        Credentials::token_file_with(&path, exchanger()).unwrap(),
    )
    .unwrap();
    let error = client
        .upload_reader(Cursor::new(vec![1; 10]), 10, "image/png", None)
        .unwrap_err();
    let text = error.to_string();
    assert!(matches!(error, Error::Credentials { .. }), "{error:?}");
    assert!(text.contains("auth login"), "{text}");
    assert!(
        !text.contains("1//refresh") && !text.contains("shh"),
        "{text}"
    );
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        original,
        "the file is untouched"
    );
    assert_eq!(server.requests().len(), 1, "no API request without a token");
}

#[test]
fn an_unavailable_token_endpoint_is_retried_within_bounds() {
    let server = Server::start(|_| Reply::status(503, &[], b""));
    let dir = temp_dir("unavailable");
    let path = dir.join("token.json");
    std::fs::write(
        &path,
        token_json(
            &format!("http://{}/token", server.addr),
            "old",
            "2020-01-01T00:00:00Z",
        ),
    )
    .unwrap();
    let client = Client::new(
        Endpoint::parse(&server.url()).unwrap(),
        Credentials::token_file_with(&path, exchanger()).unwrap(),
    )
    .unwrap();
    let error = client
        .upload_reader(Cursor::new(vec![1; 10]), 10, "image/png", None)
        .unwrap_err();
    assert!(error.to_string().contains("HTTP 503"), "{error}");
    assert_eq!(server.requests().len(), 3, "first try plus two retries");
}

#[test]
fn a_missing_or_foreign_file_is_refused_up_front() {
    let dir = temp_dir("missing");
    let error = Credentials::token_file(dir.join("nope.json")).unwrap_err();
    assert!(error.to_string().contains("auth login"), "{error}");
    let secrets = dir.join("client_secret.json");
    std::fs::write(
        &secrets,
        r#"{"installed": {"client_id": "x", "client_secret": "y"}}"#,
    )
    .unwrap();
    let error = Credentials::token_file(&secrets).unwrap_err();
    assert!(matches!(error, Error::TokenFile { .. }), "{error:?}");
}
