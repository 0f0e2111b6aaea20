//! The OAuth consent and token endpoints: authorization code with PKCE, refresh, `invalid_grant`.

mod common;

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::*;
use gphotos_emulator::{Config, Emulator};
use sha2::{Digest, Sha256};

const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk-long-enough";
const REDIRECT: &str = "http://127.0.0.1:9999/callback";

fn encode(pairs: &[(&str, &str)]) -> String {
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

/// Runs the consent step; returns the code from the redirect.
fn consent(c: &mut Client, redirect: &str) -> String {
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(VERIFIER.as_bytes()));
    let query = encode(&[
        ("client_id", "cid"),
        ("redirect_uri", redirect),
        ("response_type", "code"),
        (
            "scope",
            "https://www.googleapis.com/auth/photoslibrary.appendonly",
        ),
        ("state", "xyz 1"),
        ("code_challenge", &challenge),
        ("code_challenge_method", "S256"),
        ("access_type", "offline"),
    ]);
    let reply = c.send("GET", &format!("/oauth2/auth?{query}"), &[], b"");
    assert_eq!(reply.status, 302, "{}", reply.text());
    let location = reply.header("location").unwrap();
    let (base, query) = location.split_once('?').unwrap();
    assert_eq!(base, redirect);
    let params: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    assert!(params.contains(&("state".into(), "xyz 1".into())));
    params.into_iter().find(|(k, _)| k == "code").unwrap().1
}

fn token(c: &mut Client, pairs: &[(&str, &str)]) -> Reply {
    c.send(
        "POST",
        "/oauth2/token",
        &[("Content-Type", "application/x-www-form-urlencoded")],
        encode(pairs).as_bytes(),
    )
}

#[test]
fn code_with_pkce_then_refresh() {
    let emu = Emulator::start(Config {
        access_token: Some("static".into()),
        ..Config::default()
    })
    .unwrap();
    let mut c = Client::connect(emu.addr());
    assert!(emu.auth_uri().ends_with("/oauth2/auth"));
    assert!(emu.token_uri().ends_with("/oauth2/token"));
    let code = consent(&mut c, REDIRECT);
    let exchange = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("client_id", "cid"),
        ("client_secret", "secret"),
        ("redirect_uri", REDIRECT),
        ("code_verifier", VERIFIER),
    ];
    let reply = token(&mut c, &exchange);
    assert_eq!(reply.status, 200, "{}", reply.text());
    let body = reply.json();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3600);
    assert!(body["scope"].as_str().unwrap().contains("appendonly"));
    let access = body["access_token"].as_str().unwrap().to_owned();
    let refresh = body["refresh_token"].as_str().unwrap().to_owned();

    // The issued token is accepted even though only "static" was configured.
    let bearer = format!("Bearer {access}");
    let reply = c.send(
        "POST",
        "/v1/albums",
        &[("Authorization", &bearer)],
        br#"{"album":{"title":"t"}}"#,
    );
    assert_eq!(reply.status, 200);

    // Codes are single-use.
    let reply = token(&mut c, &exchange);
    assert_eq!(reply.status, 400);
    assert_eq!(reply.json()["error"], "invalid_grant");

    let reply = token(
        &mut c,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &refresh),
            ("client_id", "cid"),
            ("client_secret", "s"),
        ],
    );
    assert_eq!(reply.status, 200, "{}", reply.text());
    let body = reply.json();
    assert_ne!(body["access_token"].as_str().unwrap(), access);
    assert!(body.get("refresh_token").is_none());

    let reply = token(
        &mut c,
        &[("grant_type", "refresh_token"), ("refresh_token", "bogus")],
    );
    assert_eq!(reply.status, 400);
    assert_eq!(reply.json()["error"], "invalid_grant");
    assert!(reply.json()["error_description"].is_string());
}

#[test]
fn pkce_and_redirect_are_checked() {
    let emu = small(4);
    let mut c = Client::connect(emu.addr());
    for (verifier, redirect, client) in [
        (
            "wrong-verifier-wrong-verifier-wrong-verifier-x",
            REDIRECT,
            "cid",
        ),
        (VERIFIER, "http://127.0.0.1:9999/other", "cid"),
        (VERIFIER, REDIRECT, "other-client"),
    ] {
        let code = consent(&mut c, REDIRECT);
        let reply = token(
            &mut c,
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("client_id", client),
                ("redirect_uri", redirect),
                ("code_verifier", verifier),
            ],
        );
        assert_eq!(reply.status, 400, "{verifier} {redirect} {client}");
        assert_eq!(reply.json()["error"], "invalid_grant");
    }
    let code = consent(&mut c, REDIRECT);
    let reply = token(
        &mut c,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("client_id", "cid"),
            ("redirect_uri", REDIRECT),
        ],
    );
    assert_eq!(reply.json()["error"], "invalid_grant", "missing verifier");
    let reply = token(&mut c, &[("grant_type", "password")]);
    assert_eq!(reply.json()["error"], "unsupported_grant_type");
    let reply = c.send(
        "POST",
        "/oauth2/token",
        &[("Content-Type", "application/json")],
        b"{}",
    );
    assert_eq!(reply.status, 400);

    for bad in [
        "https://127.0.0.1/cb",
        "http://evil.example/cb",
        "http://127.0.0.1.evil.example/",
    ] {
        let query = encode(&[
            ("client_id", "cid"),
            ("redirect_uri", bad),
            ("response_type", "code"),
            ("scope", "s"),
        ]);
        assert_eq!(
            c.send("GET", &format!("/oauth2/auth?{query}"), &[], b"")
                .status,
            400,
            "{bad}"
        );
    }
    // localhost and IPv6 loopback redirect URIs are fine, and an existing query is kept.
    consent(&mut c, "http://localhost:1234");
    let reply = c.send(
        "GET",
        &format!(
            "/oauth2/auth?{}",
            encode(&[
                ("client_id", "c"),
                ("redirect_uri", "http://[::1]:5/?a=b"),
                ("response_type", "code"),
                ("scope", "s")
            ])
        ),
        &[],
        b"",
    );
    assert!(
        reply
            .header("location")
            .unwrap()
            .starts_with("http://[::1]:5/?a=b&")
    );
}

#[test]
fn issued_tokens_expire() {
    let emu = Emulator::start(Config {
        access_token: Some("static".into()),
        access_token_lifetime: Duration::from_millis(200),
        ..Config::default()
    })
    .unwrap();
    let mut c = Client::connect(emu.addr());
    let code = consent(&mut c, REDIRECT);
    let reply = token(
        &mut c,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("client_id", "cid"),
            ("redirect_uri", REDIRECT),
            ("code_verifier", VERIFIER),
        ],
    );
    let bearer = format!("Bearer {}", reply.json()["access_token"].as_str().unwrap());
    assert_eq!(
        c.send(
            "GET",
            "/v1/mediaItems/x",
            &[("Authorization", &bearer)],
            b""
        )
        .status,
        404
    );
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        c.send(
            "GET",
            "/v1/mediaItems/x",
            &[("Authorization", &bearer)],
            b""
        )
        .status,
        401
    );
}
