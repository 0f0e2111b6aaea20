//! `token.json` against files written and read by Python's google-auth
//! (tests/fixtures/google-auth/generate.py made them once; no Python is needed here).

use std::collections::BTreeMap;
use std::fs;
use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use gphotos_upload::oauth::{
    Consent, OAuthClient, RaptToken, Scope, TokenExchange, TokenFile, TokenFileError,
    format_expiry, parse_expiry,
};
use gphotos_upload::{AccessToken, ClientSecret, RefreshToken};
use serde_json::{Value, json};

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/google-auth")
}

fn read(relative: &str) -> Vec<u8> {
    fs::read(fixtures().join(relative)).unwrap_or_else(|e| panic!("{relative}: {e}"))
}

fn at(text: &str) -> SystemTime {
    parse_expiry(text).unwrap()
}

const CLIENT_ID: &str = "123456789012-abcdefghijklmnop.apps.googleusercontent.com";
const SCOPES: [&str; 3] = [
    "https://www.googleapis.com/auth/photoslibrary.appendonly",
    "https://www.googleapis.com/auth/photoslibrary.readonly.appcreateddata",
    "https://www.googleapis.com/auth/photoslibrary.edit.appcreateddata",
];

#[test]
fn reads_every_file_google_auth_writes_and_writes_it_back_byte_for_byte() {
    let mut seen = 0;
    for entry in fs::read_dir(fixtures().join("written")).unwrap() {
        let path = entry.unwrap().path();
        let original = fs::read(&path).unwrap();
        let file =
            TokenFile::from_json(&original).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert!(file.extra.is_empty(), "{}", path.display());
        assert_eq!(
            String::from_utf8(file.to_json()).unwrap(),
            String::from_utf8(original).unwrap(),
            "{}",
            path.display()
        );
        seen += 1;
    }
    assert_eq!(seen, 6);
}

#[test]
fn understands_google_auth_files_field_by_field() {
    let full = TokenFile::from_json(&read("written/full.json")).unwrap();
    assert_eq!(
        full.token.as_ref().map(AccessToken::expose),
        Some("ya29.fake-access-token-full")
    );
    assert_eq!(
        full.refresh_token.as_ref().map(RefreshToken::expose),
        Some("1//0fake-refresh-token-full")
    );
    assert_eq!(
        full.token_uri.as_deref(),
        Some("https://oauth2.googleapis.com/token")
    );
    assert_eq!(full.client_id.as_deref(), Some(CLIENT_ID));
    assert_eq!(
        full.client_secret.as_ref().map(ClientSecret::expose),
        Some("GOCSPX-fake-client-secret")
    );
    assert_eq!(full.scopes.as_deref(), Some(&SCOPES.map(String::from)[..]));
    assert_eq!(full.photos_scopes(), Scope::ALL);
    assert_eq!(full.universe_domain.as_deref(), Some("googleapis.com"));
    assert_eq!(full.account.as_deref(), Some(""));
    assert_eq!(
        full.expiry,
        Some(UNIX_EPOCH + Duration::new(1_735_787_045, 123_456_000))
    );

    let minimal = TokenFile::from_json(&read("written/minimal.json")).unwrap();
    assert!(minimal.token.is_none() && minimal.expiry.is_none() && minimal.scopes.is_none());
    assert!(minimal.token_uri.is_none());
    assert_eq!(
        minimal.token_uri_or_default(),
        "https://oauth2.googleapis.com/token"
    );
    assert!(minimal.needs_refresh(UNIX_EPOCH));

    let rapt = TokenFile::from_json(&read("written/rapt-account-quota.json")).unwrap();
    assert_eq!(
        rapt.rapt_token.as_ref().map(RaptToken::expose),
        Some("fake-rapt-token")
    );
    assert_eq!(rapt.account.as_deref(), Some("someone@example.com"));
    // google-auth does not write quota_project_id, even when the credentials have one.
    assert_eq!(rapt.quota_project_id, None);
    assert_eq!(rapt.expiry, Some(at("2030-12-31T23:59:59.000001Z")));

    let unicode = TokenFile::from_json(&read("written/no-scopes-unicode.json")).unwrap();
    assert_eq!(unicode.account.as_deref(), Some("zoë@例え.jp 😀"));
    assert_eq!(
        unicode.universe_domain.as_deref(),
        Some("example-universe.test")
    );
    assert_eq!(unicode.scopes, None);
    assert!(unicode.missing_scopes(&[Scope::AppendOnly]).is_empty());
}

#[test]
fn reads_what_google_auth_also_accepts() {
    let string_scopes = TokenFile::from_json(&read("handwritten/scopes-string.json")).unwrap();
    assert_eq!(
        string_scopes.photos_scopes(),
        [Scope::AppendOnly, Scope::EditAppCreatedData]
    );
    assert_eq!(
        string_scopes.missing_scopes(&Scope::ALL),
        [Scope::ReadOnlyAppCreatedData]
    );
    assert_eq!(string_scopes.expiry, Some(at("2025-01-02T03:04:05Z")));

    let extras = TokenFile::from_json(&read("handwritten/unknown-keys.json")).unwrap();
    assert_eq!(
        extras.extra.keys().collect::<Vec<_>>(),
        ["id_token", "trust_boundary", "x_written_by"]
    );
    assert_eq!(
        extras.expiry,
        Some(UNIX_EPOCH + Duration::new(1_735_787_045, 500_000_000))
    );
    let rewritten: Value = serde_json::from_slice(&extras.to_json()).unwrap();
    assert_eq!(
        rewritten["trust_boundary"],
        json!({"locations": ["eu"], "encoded_locations": "0x1"})
    );
    assert_eq!(rewritten["x_written_by"], "another tool");
    assert_eq!(rewritten["expiry"], "2025-01-02T03:04:05.500000Z");

    let gcloud = TokenFile::from_json(&read("handwritten/gcloud-authorized-user.json")).unwrap();
    assert_eq!(gcloud.quota_project_id.as_deref(), Some("my-quota-project"));
    assert_eq!(gcloud.extra.get("type"), Some(&json!("authorized_user")));
    assert!(TokenExchange::refresh(&gcloud).is_ok());
}

/// Our files, built from values rather than read from google-auth's, and what they must be.
fn our_files() -> Vec<(&'static str, Vec<u8>)> {
    let client_secret = ClientSecret::new("GOCSPX-fake-client-secret");
    let full = TokenFile {
        token: Some(AccessToken::new("ya29.fake-access-token-full")),
        refresh_token: Some(RefreshToken::new("1//0fake-refresh-token-full")),
        token_uri: Some("https://oauth2.googleapis.com/token".into()),
        client_id: Some(CLIENT_ID.into()),
        client_secret: Some(client_secret.clone()),
        scopes: Some(Scope::ALL.iter().map(|s| s.url().to_owned()).collect()),
        universe_domain: Some("googleapis.com".into()),
        account: Some(String::new()),
        // Nanoseconds beyond the microsecond are dropped, as Python's datetime holds microseconds.
        expiry: Some(UNIX_EPOCH + Duration::new(1_735_787_045, 123_456_789)),
        ..TokenFile::default()
    };

    let mut extras = TokenFile {
        token: Some(AccessToken::new("ya29.fake-access-token-ours")),
        refresh_token: Some(RefreshToken::new("1//0fake-refresh-token-ours")),
        token_uri: Some("http://127.0.0.1:8085/token".into()),
        client_id: Some(CLIENT_ID.into()),
        client_secret: Some(client_secret.clone()),
        scopes: Some(vec![Scope::AppendOnly.url().into(), "openid".into()]),
        rapt_token: Some(RaptToken::new("fake-rapt-token-ours")),
        universe_domain: Some("googleapis.com".into()),
        account: Some("zoë@example.com".into()),
        quota_project_id: Some("my-quota-project".into()),
        expiry: Some(at("2031-07-04T05:06:07Z")),
        ..TokenFile::default()
    };
    extras
        .extra
        .insert("trust_boundary".into(), json!({"locations": ["eu", "us"]}));
    extras
        .extra
        .insert("x_note".into(), json!("kept by gphotos-upload ✓"));

    let before = TokenFile::from_json(&read("refresh/before.json")).unwrap();
    let request: Value = serde_json::from_slice(&read("refresh/request.json")).unwrap();
    let now = at(request["now"].as_str().unwrap());
    let reply = http::Response::builder()
        .status(200)
        .body(read("refresh/reply.json"))
        .unwrap();
    let refreshed = TokenExchange::refresh(&before)
        .unwrap()
        .handle_response(now, &reply)
        .unwrap();

    let client = OAuthClient::installed(CLIENT_ID, client_secret);
    let consent = Consent::new(
        &client,
        53_682,
        &[Scope::AppendOnly, Scope::ReadOnlyAppCreatedData],
        [7; 32],
        [9; 32],
    )
    .unwrap();
    let code_reply = http::Response::builder()
        .status(200)
        .body(
            r#"{"access_token": "ya29.fake-access-token-consent", "expires_in": 3599,
                "refresh_token": "1//0fake-refresh-token-consent", "token_type": "Bearer",
                "scope": "https://www.googleapis.com/auth/photoslibrary.readonly.appcreateddata https://www.googleapis.com/auth/photoslibrary.appendonly"}"#,
        )
        .unwrap();
    let consented = consent
        .exchange(&gphotos_upload::oauth::AuthorizationCode::new(
            "4/0fake-code",
        ))
        .handle_response(at("2025-03-04T05:06:07.000008Z"), &code_reply)
        .unwrap();

    let string_scopes = TokenFile::from_json(&read("handwritten/scopes-string.json")).unwrap();

    vec![
        ("full.json", full.to_json()),
        ("extras.json", extras.to_json()),
        ("refreshed.json", refreshed.to_json()),
        ("consented.json", consented.to_json()),
        ("scopes-string-rewritten.json", string_scopes.to_json()),
    ]
}

/// Run with `GPHOTOS_BLESS_FIXTURES=1` to rewrite `ours/` after a deliberate change, then run
/// generate.py again so that google-auth-reads.json describes the new files.
#[test]
fn our_files_are_what_we_write() {
    let bless = std::env::var_os("GPHOTOS_BLESS_FIXTURES").is_some();
    for (name, bytes) in our_files() {
        let path = fixtures().join("ours").join(name);
        if bless {
            fs::write(&path, &bytes).unwrap();
        }
        assert_eq!(
            String::from_utf8(bytes).unwrap(),
            String::from_utf8(fs::read(&path).unwrap()).unwrap(),
            "{name} differs from what we now write; see this test's doc comment"
        );
    }
}

#[test]
fn our_full_file_is_byte_for_byte_google_auths() {
    assert_eq!(read("ours/full.json"), read("written/full.json"));
}

#[test]
fn our_refresh_writes_what_google_auths_refresh_writes() {
    // Same file, same reply, same clock: google-auth's Credentials.refresh() wrote after.json.
    assert_eq!(read("ours/refreshed.json"), read("refresh/after.json"));
}

#[test]
fn our_refresh_request_is_google_auths_without_scope() {
    let before = TokenFile::from_json(&read("refresh/before.json")).unwrap();
    let request = TokenExchange::refresh(&before).unwrap().request();
    let theirs: Value = serde_json::from_slice(&read("refresh/request.json")).unwrap();
    assert_eq!(request.method().as_str(), theirs["method"]);
    assert_eq!(request.uri().to_string(), theirs["url"]);
    assert_eq!(
        request.headers()["content-type"].to_str().unwrap(),
        theirs["content_type"]
    );
    let gphotos_upload::Payload::Bytes(body) = request.body() else {
        panic!("a form body")
    };
    let ours: Vec<(String, String)> = form_pairs(body);
    let mut expected: Vec<(String, String)> = theirs["form"]
        .as_array()
        .unwrap()
        .iter()
        .map(|pair| {
            (
                pair[0].as_str().unwrap().to_owned(),
                pair[1].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    // google-auth narrows the refresh to the file's scopes; we do not (the grant keeps its own, and
    // a file listing a scope that was never granted would fail with invalid_scope).
    expected.retain(|(key, _)| key != "scope");
    assert_eq!(ours, expected);
}

fn form_pairs(body: &[u8]) -> Vec<(String, String)> {
    let text = std::str::from_utf8(body).unwrap();
    text.split('&')
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap();
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            out.push(u8::from_str_radix(&text[i + 1..i + 3], 16).unwrap());
            i += 3;
        } else {
            out.push(if bytes[i] == b'+' { b' ' } else { bytes[i] });
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

#[test]
fn google_auth_reads_what_we_write() {
    let report: BTreeMap<String, Value> =
        serde_json::from_slice(&read("google-auth-reads.json")).unwrap();
    for (name, bytes) in our_files() {
        let key = format!("ours/{name}");
        let theirs = report
            .get(&key)
            .unwrap_or_else(|| panic!("{key} missing: run generate.py"));
        assert!(theirs.get("error").is_none(), "{key}: {theirs}");
        let ours = TokenFile::from_json(&bytes).unwrap();
        assert_eq!(
            theirs["token"].as_str(),
            ours.token.as_ref().map(AccessToken::expose),
            "{key}"
        );
        assert_eq!(
            theirs["refresh_token"].as_str(),
            ours.refresh_token.as_ref().map(RefreshToken::expose),
            "{key}"
        );
        assert_eq!(theirs["client_id"].as_str(), ours.client_id.as_deref());
        assert_eq!(
            theirs["client_secret"].as_str(),
            ours.client_secret.as_ref().map(ClientSecret::expose)
        );
        assert_eq!(
            theirs["rapt_token"].as_str(),
            ours.rapt_token.as_ref().map(RaptToken::expose)
        );
        assert_eq!(
            theirs["quota_project_id"].as_str(),
            ours.quota_project_id.as_deref()
        );
        assert_eq!(
            theirs["account"].as_str().unwrap(),
            ours.account.as_deref().unwrap_or("")
        );
        let their_scopes: Option<Vec<String>> =
            serde_json::from_value(theirs["scopes"].clone()).unwrap();
        assert_eq!(their_scopes, ours.scopes, "{key}");
        // google-auth keeps whole seconds of the expiry.
        let whole = ours.expiry.map(|t| {
            let since = t.duration_since(UNIX_EPOCH).unwrap();
            format_expiry(UNIX_EPOCH + Duration::from_secs(since.as_secs()))
        });
        assert_eq!(theirs["expiry"].as_str(), whole.as_deref(), "{key}");
    }
}

#[test]
fn google_auth_and_we_read_the_handwritten_files_alike() {
    let report: BTreeMap<String, Value> =
        serde_json::from_slice(&read("google-auth-reads.json")).unwrap();
    for name in [
        "scopes-string.json",
        "unknown-keys.json",
        "gcloud-authorized-user.json",
    ] {
        let theirs = &report[&format!("handwritten/{name}")];
        let ours = TokenFile::from_json(&read(&format!("handwritten/{name}"))).unwrap();
        assert_eq!(
            theirs["refresh_token"].as_str(),
            ours.refresh_token.as_ref().map(RefreshToken::expose)
        );
        let their_scopes: Option<Vec<String>> =
            serde_json::from_value(theirs["scopes"].clone()).unwrap();
        assert_eq!(their_scopes, ours.scopes, "{name}");
        assert_eq!(
            theirs["quota_project_id"].as_str(),
            ours.quota_project_id.as_deref()
        );
        let whole = ours.expiry.map(|t| {
            let since = t.duration_since(UNIX_EPOCH).unwrap();
            format_expiry(UNIX_EPOCH + Duration::from_secs(since.as_secs()))
        });
        assert_eq!(theirs["expiry"].as_str(), whole.as_deref(), "{name}");
    }
}

#[test]
fn refuses_files_that_are_not_token_files() {
    let cases: [(&[u8], TokenFileError); 9] = [
        (b"", TokenFileError::NotJson { line: 1, column: 0 }),
        (
            b"{\"token\": ",
            TokenFileError::NotJson {
                line: 1,
                column: 10,
            },
        ),
        (b"[1, 2]", TokenFileError::NotAnObject),
        (b"\"token\"", TokenFileError::NotAnObject),
        (
            br#"{"installed": {"client_id": "x", "client_secret": "y"}}"#,
            TokenFileError::ClientSecretFile,
        ),
        (
            br#"{"type": "service_account", "private_key": "-----BEGIN"}"#,
            TokenFileError::WrongKind("service_account".into()),
        ),
        (br#"{"token": 42}"#, TokenFileError::WrongType("token")),
        (br#"{"scopes": [1]}"#, TokenFileError::WrongType("scopes")),
        (
            br#"{"expiry": "tomorrow"}"#,
            TokenFileError::BadExpiry("tomorrow".into()),
        ),
    ];
    for (bytes, expected) in cases {
        let error = TokenFile::from_json(bytes).unwrap_err();
        assert_eq!(error, expected, "{}", String::from_utf8_lossy(bytes));
        let shown = error.to_string();
        assert!(shown.contains("gphotos-upload auth login"), "{shown}");
    }
}

#[test]
fn accepts_nulls_empty_expiry_and_a_byte_order_mark() {
    let file = TokenFile::from_json(
        b"\xEF\xBB\xBF{\"token\": null, \"expiry\": \"\", \"scopes\": null, \"refresh_token\": \"r\"}",
    )
    .unwrap();
    assert!(file.token.is_none() && file.expiry.is_none() && file.scopes.is_none());
    assert_eq!(file.to_json(), br#"{"refresh_token": "r"}"#);
}

#[test]
fn needs_refresh_three_minutes_forty_five_before_expiry() {
    let expiry = at("2025-01-02T03:04:05Z");
    let file = TokenFile {
        token: Some(AccessToken::new("ya29.x")),
        expiry: Some(expiry),
        ..TokenFile::default()
    };
    let margin = Duration::from_secs(225);
    assert!(!file.needs_refresh(expiry - margin - Duration::from_micros(1)));
    assert!(
        file.access_token(expiry - margin - Duration::from_secs(1))
            .is_some()
    );
    assert!(file.needs_refresh(expiry - margin));
    assert!(file.access_token(expiry - margin).is_none());
    assert!(file.needs_refresh(expiry));
    assert!(file.needs_refresh(expiry + Duration::from_secs(3600)));
    assert!(!file.needs_refresh(UNIX_EPOCH));

    let no_expiry = TokenFile {
        expiry: None,
        ..file.clone()
    };
    assert!(no_expiry.needs_refresh(UNIX_EPOCH));
    let no_token = TokenFile {
        token: None,
        ..file
    };
    assert!(no_token.needs_refresh(UNIX_EPOCH));
}
