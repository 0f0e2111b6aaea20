//! `client_secret.json`, the scopes, and the installed-app consent flow with PKCE.

use std::time::{Duration, SystemTime};

use gphotos_upload::oauth::{
    AuthorizationCode, ClientKind, ClientSecretError, Consent, ConsentError, ExchangeKind,
    OAuthClient, RedirectError, Scope, ScopeError, TokenEndpointError, parse_expiry,
};
use gphotos_upload::{ClientSecret, EndpointError, Payload};

const DESKTOP: &str = r#"{"installed":{"client_id":"123-abc.apps.googleusercontent.com","project_id":"my-project","auth_uri":"https://accounts.google.com/o/oauth2/auth","token_uri":"https://oauth2.googleapis.com/token","auth_provider_x509_cert_url":"https://www.googleapis.com/oauth2/v1/certs","client_secret":"GOCSPX-desktop-secret","redirect_uris":["http://localhost"]}}"#;

fn client() -> OAuthClient {
    OAuthClient::from_json(DESKTOP.as_bytes()).unwrap()
}

fn consent() -> Consent {
    Consent::new(
        &client(),
        53_682,
        &[Scope::AppendOnly, Scope::ReadOnlyAppCreatedData],
        [1; 32],
        [2; 32],
    )
    .unwrap()
}

/// The query parameters of a URL, decoded.
fn query(url: &str) -> Vec<(String, String)> {
    let (_, query) = url.split_once('?').unwrap();
    query
        .split('&')
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap();
            (decode(k), decode(v))
        })
        .collect()
}

fn decode(text: &str) -> String {
    let mut out = Vec::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            out.push(u8::from_str_radix(&text[i + 1..i + 3], 16).unwrap());
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

fn state_of(consent: &Consent) -> String {
    query(&consent.authorization_url())
        .into_iter()
        .find(|(k, _)| k == "state")
        .unwrap()
        .1
}

#[test]
fn parses_a_desktop_client() {
    let client = client();
    assert_eq!(client.kind(), ClientKind::Installed);
    assert_eq!(client.client_id(), "123-abc.apps.googleusercontent.com");
    assert_eq!(client.client_secret().expose(), "GOCSPX-desktop-secret");
    assert_eq!(
        client.auth_uri(),
        "https://accounts.google.com/o/oauth2/auth"
    );
    assert_eq!(client.token_uri(), "https://oauth2.googleapis.com/token");
    assert_eq!(client.redirect_uris(), ["http://localhost"]);
}

#[test]
fn parses_a_web_client_and_defaults_the_endpoints() {
    let client = OAuthClient::from_json(
        br#"{"web": {"client_id": "id", "client_secret": "s", "redirect_uris": null}}"#,
    )
    .unwrap();
    assert_eq!(client.kind(), ClientKind::Web);
    assert_eq!(
        client.auth_uri(),
        "https://accounts.google.com/o/oauth2/auth"
    );
    assert_eq!(client.token_uri(), "https://oauth2.googleapis.com/token");
    assert!(client.redirect_uris().is_empty());
}

#[test]
fn tells_the_user_what_is_wrong_with_a_client_secret_file() {
    let desktop = "create an OAuth client ID of type \"Desktop app\"";
    let cases: Vec<(&[u8], ClientSecretError)> = vec![
        (b"", ClientSecretError::NotJson { line: 1, column: 0 }),
        (
            b"<html>sign in</html>",
            ClientSecretError::NotJson { line: 1, column: 1 },
        ),
        (
            br#"{"type": "service_account", "project_id": "p", "private_key_id": "k", "private_key": "-----BEGIN PRIVATE KEY-----", "client_email": "x@p.iam.gserviceaccount.com"}"#,
            ClientSecretError::ServiceAccountKey,
        ),
        (
            br#"{"token": "t", "refresh_token": "r", "client_id": "c", "client_secret": "s"}"#,
            ClientSecretError::TokenFile,
        ),
        (
            br#"{"type": "authorized_user", "client_id": "c"}"#,
            ClientSecretError::TokenFile,
        ),
        (b"[]", ClientSecretError::NoClient),
        (br#"{"other": {}}"#, ClientSecretError::NoClient),
        (br#"{"installed": "x"}"#, ClientSecretError::NoClient),
        (
            br#"{"installed": {"client_secret": "s"}}"#,
            ClientSecretError::MissingField("client_id"),
        ),
        (
            br#"{"installed": {"client_id": "", "client_secret": "s"}}"#,
            ClientSecretError::MissingField("client_id"),
        ),
        (
            br#"{"installed": {"client_id": "c"}}"#,
            ClientSecretError::MissingField("client_secret"),
        ),
        (
            br#"{"installed": {"client_id": 1, "client_secret": "s"}}"#,
            ClientSecretError::WrongType("client_id"),
        ),
        (
            br#"{"installed": {"client_id": "c", "client_secret": "s", "redirect_uris": [1]}}"#,
            ClientSecretError::WrongType("redirect_uris"),
        ),
        (
            br#"{"installed": {"client_id": "c", "client_secret": "s", "token_uri": "http://evil.example/token"}}"#,
            ClientSecretError::Uri {
                field: "token_uri",
                error: EndpointError::InsecureHost("evil.example".into()),
            },
        ),
        (
            br#"{"installed": {"client_id": "c", "client_secret": "s", "auth_uri": "javascript:alert(1)"}}"#,
            ClientSecretError::Uri {
                field: "auth_uri",
                error: EndpointError::NotAUrl("javascript:alert(1)".into()),
            },
        ),
    ];
    for (bytes, expected) in cases {
        let error = OAuthClient::from_json(bytes).unwrap_err();
        assert_eq!(error, expected, "{}", String::from_utf8_lossy(bytes));
        let shown = error.to_string();
        if !matches!(error, ClientSecretError::Uri { .. }) {
            assert!(shown.contains(desktop), "{shown}");
        }
    }
}

#[test]
fn an_emulator_may_stand_in_on_loopback() {
    let client = client()
        .with_endpoints(
            "http://127.0.0.1:9000/o/oauth2/auth",
            "http://127.0.0.1:9000/token",
        )
        .unwrap();
    assert_eq!(client.token_uri(), "http://127.0.0.1:9000/token");
    let consent = Consent::new(&client, 1, &[Scope::AppendOnly], [0; 32], [0; 32]).unwrap();
    assert!(
        consent
            .authorization_url()
            .starts_with("http://127.0.0.1:9000/o/oauth2/auth?client_id=")
    );
    assert_eq!(
        consent
            .exchange(&AuthorizationCode::new("c"))
            .request()
            .uri(),
        "http://127.0.0.1:9000/token"
    );
    assert!(
        client
            .with_endpoints("https://a.example/auth", "http://b.example/token")
            .is_err()
    );
}

#[test]
fn scopes_parse_and_display_as_their_urls() {
    for scope in Scope::ALL {
        assert_eq!(scope.to_string().parse::<Scope>(), Ok(scope));
        assert_eq!(scope.short_name().parse::<Scope>(), Ok(scope));
        assert_eq!(
            format!("photoslibrary.{}", scope.short_name()).parse::<Scope>(),
            Ok(scope)
        );
        let json = serde_json::to_string(&scope).unwrap();
        assert_eq!(json, format!("\"{}\"", scope.url()));
        assert_eq!(serde_json::from_str::<Scope>(&json).unwrap(), scope);
    }
    assert_eq!(
        Scope::AppendOnly.url(),
        "https://www.googleapis.com/auth/photoslibrary.appendonly"
    );
    assert_eq!(
        Scope::ReadOnlyAppCreatedData.url(),
        "https://www.googleapis.com/auth/photoslibrary.readonly.appcreateddata"
    );
    assert_eq!(
        Scope::EditAppCreatedData.url(),
        "https://www.googleapis.com/auth/photoslibrary.edit.appcreateddata"
    );
    for removed in [
        "https://www.googleapis.com/auth/photoslibrary",
        "https://www.googleapis.com/auth/photoslibrary.readonly",
        "https://www.googleapis.com/auth/photoslibrary.sharing",
        "photoslibrary.sharing",
    ] {
        let error = removed.parse::<Scope>().unwrap_err();
        assert!(matches!(error, ScopeError::Removed(_)), "{removed}");
        assert!(error.to_string().contains("31 March 2025"));
    }
    for unknown in [
        "",
        "openid",
        "https://www.googleapis.com/auth/drive",
        "sharing",
    ] {
        assert!(matches!(
            unknown.parse::<Scope>(),
            Err(ScopeError::Unknown(_))
        ));
    }
    assert!(serde_json::from_str::<Scope>("\"photoslibrary.readonly\"").is_err());
}

#[test]
fn builds_the_authorization_url_with_pkce() {
    let consent = consent();
    let url = consent.authorization_url();
    assert!(
        url.starts_with("https://accounts.google.com/o/oauth2/auth?"),
        "{url}"
    );
    let params = query(&url);
    let keys: Vec<&str> = params.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        keys,
        [
            "client_id",
            "redirect_uri",
            "response_type",
            "scope",
            "state",
            "code_challenge",
            "code_challenge_method",
            "access_type",
            "prompt"
        ]
    );
    let get = |key: &str| params.iter().find(|(k, _)| k == key).unwrap().1.clone();
    assert_eq!(get("client_id"), "123-abc.apps.googleusercontent.com");
    assert_eq!(get("redirect_uri"), "http://127.0.0.1:53682");
    assert_eq!(consent.redirect_uri(), "http://127.0.0.1:53682");
    assert_eq!(get("response_type"), "code");
    assert_eq!(
        get("scope"),
        "https://www.googleapis.com/auth/photoslibrary.appendonly \
         https://www.googleapis.com/auth/photoslibrary.readonly.appcreateddata"
    );
    // base64url of 32 bytes of 0x01, and of SHA-256 of base64url of 32 bytes of 0x02.
    assert_eq!(get("state"), "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE");
    assert_eq!(get("code_challenge"), consent.code_challenge());
    assert_eq!(get("code_challenge_method"), "S256");
    assert_eq!(get("access_type"), "offline");
    assert_eq!(get("prompt"), "consent");
    assert!(
        !url.contains("GOCSPX"),
        "the client secret stays out of the URL"
    );
    assert!(
        !url.contains("AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI"),
        "nor the verifier"
    );
}

#[test]
fn the_code_challenge_follows_rfc_7636() {
    // RFC 7636 appendix B: this verifier has this challenge. Our verifier is base64url of the
    // random bytes, so the RFC's octets give the RFC's verifier.
    let octets = [
        116, 24, 223, 180, 151, 153, 224, 37, 79, 250, 96, 125, 216, 173, 187, 186, 22, 212, 37,
        77, 105, 214, 191, 240, 91, 88, 5, 88, 83, 132, 141, 121,
    ];
    let consent = Consent::new(&client(), 1, &[Scope::AppendOnly], [0; 32], octets).unwrap();
    assert_eq!(
        consent.code_challenge(),
        "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
    );
    let body = match consent
        .exchange(&AuthorizationCode::new("c"))
        .request()
        .into_body()
    {
        Payload::Bytes(bytes) => String::from_utf8(bytes).unwrap(),
        other => panic!("{other:?}"),
    };
    assert!(body.ends_with("&code_verifier=dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"));
}

#[test]
fn scopes_are_deduplicated_and_required() {
    let consent = Consent::new(
        &client(),
        1,
        &[Scope::AppendOnly, Scope::AppendOnly],
        [0; 32],
        [0; 32],
    )
    .unwrap();
    assert_eq!(consent.scopes(), [Scope::AppendOnly]);
    let error = Consent::new(&client(), 1, &[], [0; 32], [0; 32]).unwrap_err();
    assert_eq!(error, ConsentError::NoScopes);
    assert!(!error.to_string().is_empty());
}

#[test]
fn reads_the_code_from_the_redirect() {
    let consent = consent();
    let state = state_of(&consent);
    let code = consent
        .parse_redirect(&format!(
            "/?state={state}&code=4%2F0AanRRrtsecretcode&scope=https%3A%2F%2Fwww.googleapis.com%2Fauth%2Fphotoslibrary.appendonly+https%3A%2F%2Fwww.googleapis.com%2Fauth%2Fphotoslibrary.readonly.appcreateddata&authuser=0&prompt=consent"
        ))
        .unwrap();
    assert_eq!(code.expose(), "4/0AanRRrtsecretcode");
    // Absolute-form, no path, a fragment.
    let code = consent
        .parse_redirect(&format!(
            "http://127.0.0.1:53682?code=abc&state={state}#ignored"
        ))
        .unwrap();
    assert_eq!(code.expose(), "abc");
}

#[test]
fn refuses_a_redirect_with_the_wrong_state() {
    let consent = consent();
    let state = state_of(&consent);
    for target in [
        "/?code=abc".to_owned(),
        "/?code=abc&state=".to_owned(),
        "/?code=abc&state=forged".to_owned(),
        format!("/?code=abc&state={}", &state[..state.len() - 1]),
        format!("/?code=abc&state={state}x"),
        "/?error=access_denied&state=forged".to_owned(),
    ] {
        let error = consent.parse_redirect(&target).unwrap_err();
        assert_eq!(error, RedirectError::StateMismatch, "{target}");
        assert!(error.keep_listening());
    }
}

#[test]
fn reports_a_declined_consent() {
    let consent = consent();
    let state = state_of(&consent);
    let error = consent
        .parse_redirect(&format!("/?error=access_denied&state={state}"))
        .unwrap_err();
    assert_eq!(error, RedirectError::AccessDenied);
    assert!(!error.keep_listening());
    assert!(error.to_string().contains("auth login"));

    let error = consent
        .parse_redirect(&format!(
            "/?error=admin_policy_enforced&error_description=Blocked+by%0Aadmin&state={state}"
        ))
        .unwrap_err();
    assert_eq!(
        error,
        RedirectError::Authorization {
            error: "admin_policy_enforced".into(),
            description: Some("Blocked byadmin".into()),
        }
    );
}

#[test]
fn ignores_other_requests_and_refuses_garbage() {
    let consent = consent();
    let state = state_of(&consent);
    for target in [
        "/favicon.ico",
        "/",
        "",
        "/?",
        "/?state=x",
        "/callback?code=abc",
        "*",
        "http://127.0.0.1:53682/other?code=x",
    ] {
        assert_eq!(
            consent.parse_redirect(target),
            Err(RedirectError::NotTheRedirect),
            "{target}"
        );
    }
    for target in [
        format!("/?code=%zz&state={state}"),
        format!("/?code=%FF&state={state}"),
        format!("/?code=a&code=b&state={state}"),
        format!("/?code=a&state={state}&state={state}"),
        format!("/?code=&state={state}"),
    ] {
        let error = consent.parse_redirect(&target).unwrap_err();
        assert!(matches!(error, RedirectError::Malformed(_)), "{target}");
        assert!(!error.keep_listening());
    }
}

fn at(text: &str) -> SystemTime {
    parse_expiry(text).unwrap()
}

#[test]
fn exchanges_the_code_for_a_new_token_file() {
    let consent = consent();
    let exchange = consent.exchange(&AuthorizationCode::new("4/0Aa code"));
    assert_eq!(exchange.kind(), ExchangeKind::AuthorizationCode);
    let request = exchange.request();
    assert_eq!(request.method(), http::Method::POST);
    assert_eq!(request.uri(), "https://oauth2.googleapis.com/token");
    assert_eq!(
        request.headers()["content-type"],
        "application/x-www-form-urlencoded"
    );
    let Payload::Bytes(body) = request.body() else {
        panic!("a form body")
    };
    let verifier = "AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI";
    assert_eq!(
        String::from_utf8(body.clone()).unwrap(),
        format!(
            "code=4%2F0Aa%20code&client_id=123-abc.apps.googleusercontent.com\
             &client_secret=GOCSPX-desktop-secret&redirect_uri=http%3A%2F%2F127.0.0.1%3A53682\
             &grant_type=authorization_code&code_verifier={verifier}"
        )
    );
    assert!(!exchange.transmit(gphotos_upload::RequestId(1)).bearer);

    let now = at("2025-03-04T05:06:07Z");
    let reply = http::Response::builder()
        .status(200)
        .body(
            r#"{"access_token": "ya29.first", "expires_in": 3599, "refresh_token": "1//first",
                "scope": "https://www.googleapis.com/auth/photoslibrary.appendonly", "token_type": "Bearer"}"#,
        )
        .unwrap();
    let file = exchange.handle_response(now, &reply).unwrap();
    assert_eq!(file.token.as_ref().unwrap().expose(), "ya29.first");
    assert_eq!(file.refresh_token.as_ref().unwrap().expose(), "1//first");
    assert_eq!(
        file.client_id.as_deref(),
        Some("123-abc.apps.googleusercontent.com")
    );
    assert_eq!(
        file.client_secret,
        Some(ClientSecret::new("GOCSPX-desktop-secret"))
    );
    assert_eq!(
        file.token_uri.as_deref(),
        Some("https://oauth2.googleapis.com/token")
    );
    assert_eq!(file.expiry, Some(now + Duration::from_secs(3599)));
    // The user unticked readonly on the consent page: the file records what was granted.
    assert_eq!(file.photos_scopes(), [Scope::AppendOnly]);
    assert_eq!(
        file.missing_scopes(&[Scope::AppendOnly, Scope::ReadOnlyAppCreatedData]),
        [Scope::ReadOnlyAppCreatedData]
    );
    assert_eq!(file.universe_domain.as_deref(), Some("googleapis.com"));
    assert_eq!(file.account.as_deref(), Some(""));

    // Without a scope in the reply, the requested ones are recorded.
    let reply = http::Response::builder()
        .status(200)
        .body(r#"{"access_token": "a", "refresh_token": "r"}"#)
        .unwrap();
    assert_eq!(
        exchange
            .handle_response(now, &reply)
            .unwrap()
            .photos_scopes(),
        [Scope::AppendOnly, Scope::ReadOnlyAppCreatedData]
    );
}

#[test]
fn a_code_exchange_without_refresh_token_or_with_a_used_code_fails() {
    let exchange = consent().exchange(&AuthorizationCode::new("c"));
    let now = at("2025-03-04T05:06:07Z");
    let reply = http::Response::builder()
        .status(200)
        .body(r#"{"access_token": "a", "expires_in": 3599}"#)
        .unwrap();
    let error = exchange.handle_response(now, &reply).unwrap_err();
    assert_eq!(error, TokenEndpointError::NoRefreshToken);
    assert!(error.needs_consent());
    assert!(
        error
            .to_string()
            .contains("myaccount.google.com/permissions")
    );

    let reply = http::Response::builder()
        .status(400)
        .body(r#"{"error": "invalid_grant", "error_description": "Bad Request"}"#)
        .unwrap();
    let error = exchange.handle_response(now, &reply).unwrap_err();
    assert_eq!(
        error,
        TokenEndpointError::ConsentRequired {
            kind: ExchangeKind::AuthorizationCode,
            description: Some("Bad Request".into()),
        }
    );
    assert!(error.to_string().contains("already used"));

    let reply = http::Response::builder()
        .status(400)
        .body(r#"{"error": "redirect_uri_mismatch"}"#)
        .unwrap();
    assert!(matches!(
        exchange.handle_response(now, &reply),
        Err(TokenEndpointError::Rejected { status: 400, .. })
    ));
}

#[test]
fn answers_the_browser() {
    let consent = consent();
    let state = state_of(&consent);
    let text =
        |response: &http::Response<Vec<u8>>| String::from_utf8(response.body().clone()).unwrap();

    let ok = Consent::browser_reply(
        &consent.parse_redirect(&format!("/?code=4%2FSECRETCODE&state={state}")),
    );
    assert_eq!(ok.status(), 200);
    assert_eq!(ok.headers()["content-type"], "text/html; charset=utf-8");
    assert_eq!(ok.headers()["cache-control"], "no-store");
    assert_eq!(ok.headers()["referrer-policy"], "no-referrer");
    assert_eq!(
        ok.headers()["content-length"].to_str().unwrap(),
        ok.body().len().to_string()
    );
    assert!(text(&ok).contains("close this tab"));
    assert!(!text(&ok).contains("SECRETCODE"));

    let favicon = Consent::browser_reply(&consent.parse_redirect("/favicon.ico"));
    assert_eq!(favicon.status(), 404);

    let denied = Consent::browser_reply(
        &consent.parse_redirect(&format!("/?error=access_denied&state={state}")),
    );
    assert_eq!(denied.status(), 400);
    assert!(text(&denied).contains("declined"));

    let hostile = Consent::browser_reply(&consent.parse_redirect(&format!(
        "/?error=%3Cscript%3Ealert(1)%3C%2Fscript%3E&state={state}"
    )));
    assert_eq!(hostile.status(), 400);
    assert!(!text(&hostile).contains("<script>"), "{}", text(&hostile));
    assert!(text(&hostile).contains("&lt;script&gt;"));
}
