//! No access token, refresh token, client secret, code, verifier or reauth token in the `Debug` or
//! `Display` output of any OAuth type or error; and no panic on any input.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use gphotos_upload::oauth::{
    AuthorizationCode, ClientKind, ClientSecretError, CodeVerifier, Consent, ConsentError,
    ExchangeKind, OAuthClient, RaptToken, RedirectError, RefreshError, Scope, ScopeError,
    TokenEndpointError, TokenExchange, TokenFile, TokenFileError,
};
use gphotos_upload::{AccessToken, ClientSecret, RefreshToken, RequestId};
use proptest::prelude::*;

const ACCESS: &str = "ya29.SECRET-ACCESS";
const REFRESH: &str = "1//SECRET-REFRESH";
const CLIENT_SECRET: &str = "GOCSPX-SECRET-CLIENT";
const CODE: &str = "4/SECRET-CODE";
const RAPT: &str = "SECRET-RAPT";
const ROTATED: &str = "1//SECRET-ROTATED";

/// The verifier is base64url of these bytes: a distinctive run that shows up if printed.
const VERIFIER_BYTES: [u8; 32] = [0xAB; 32];

fn assert_clean(what: &str, shown: &str, verifier: &str) {
    for secret in [
        ACCESS,
        REFRESH,
        CLIENT_SECRET,
        CODE,
        RAPT,
        ROTATED,
        verifier,
    ] {
        assert!(
            !shown.contains(secret),
            "{what} shows a secret ({secret}): {shown}"
        );
    }
    // Parts of them, too (a truncated print would still leak).
    for part in ["SECRET", "q6ur", "GOCSPX"] {
        assert!(!shown.contains(part), "{what} shows `{part}`: {shown}");
    }
}

#[test]
#[allow(clippy::too_many_lines)] // one list of every type and error
fn no_secret_in_debug_or_display_of_any_oauth_type() {
    let client = OAuthClient::installed("client-id", ClientSecret::new(CLIENT_SECRET));
    let consent = Consent::new(&client, 4242, &Scope::ALL, [0x11; 32], VERIFIER_BYTES).unwrap();
    let verifier = consent_verifier(&consent);
    let code = AuthorizationCode::new(CODE);
    let code_exchange = consent.exchange(&code);

    let mut file = TokenFile {
        token: Some(AccessToken::new(ACCESS)),
        refresh_token: Some(RefreshToken::new(REFRESH)),
        client_id: Some("client-id".into()),
        client_secret: Some(ClientSecret::new(CLIENT_SECRET)),
        rapt_token: Some(RaptToken::new(RAPT)),
        expiry: Some(UNIX_EPOCH + Duration::from_secs(1_800_000_000)),
        ..TokenFile::default()
    };
    file.extra
        .insert("id_token".into(), serde_json::json!("SECRET-ID-TOKEN"));
    let refresh = TokenExchange::refresh(&file).unwrap();
    let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    let reply = http::Response::builder()
        .status(200)
        .body(format!(
            r#"{{"access_token": "{ACCESS}", "refresh_token": "{ROTATED}", "expires_in": 3599}}"#
        ))
        .unwrap();
    let refreshed = refresh.handle_response(now, &reply).unwrap();
    let consented = code_exchange.handle_response(now, &reply).unwrap();

    // Errors, including those carrying server text that echoes the secrets.
    // Each exchange's reply echoes what that exchange sent (and the access token it replaces).
    let echoes = [
        (
            &refresh,
            format!("{ACCESS} {REFRESH} {CLIENT_SECRET} {RAPT}"),
        ),
        (&code_exchange, format!("{CLIENT_SECRET} {CODE} {verifier}")),
    ];
    let mut endpoint_errors = Vec::new();
    for (exchange, echo) in echoes {
        for error in ["invalid_grant", "invalid_client", "invalid_request", "x"] {
            let reply = http::Response::builder()
                .status(400)
                .body(format!(
                    r#"{{"error": "{error}", "error_description": "{echo}"}}"#
                ))
                .unwrap();
            endpoint_errors.push(exchange.handle_response(now, &reply).unwrap_err());
        }
    }
    endpoint_errors.extend([
        TokenEndpointError::Retryable {
            status: 503,
            retry_after: Some(Duration::from_secs(3)),
        },
        TokenEndpointError::Status { status: 404 },
        TokenEndpointError::Malformed {
            status: 200,
            reason: "it has no access_token",
        },
        TokenEndpointError::NoRefreshToken,
    ]);
    let redirect_error = consent
        .parse_redirect(&format!(
            "/?error=weird&error_description={CODE}&state=AAAA"
        ))
        .unwrap_err();

    let debug_only: Vec<(&str, String)> = vec![
        ("AuthorizationCode", format!("{code:?}")),
        (
            "CodeVerifier",
            format!("{:?}", CodeVerifier::new(verifier.clone())),
        ),
        ("RaptToken", format!("{:?}", RaptToken::new(RAPT))),
        ("OAuthClient", format!("{client:?}")),
        ("ClientKind", format!("{:?}", ClientKind::Web)),
        ("Consent", format!("{consent:?}")),
        ("TokenFile", format!("{file:?}")),
        ("refreshed TokenFile", format!("{refreshed:?}")),
        ("consented TokenFile", format!("{consented:?}")),
        ("refresh TokenExchange", format!("{refresh:?}")),
        ("code TokenExchange", format!("{code_exchange:?}")),
        ("refresh request", format!("{:?}", refresh.request())),
        ("code request", format!("{:?}", code_exchange.request())),
        ("Transmit", format!("{:?}", refresh.transmit(RequestId(1)))),
        ("ExchangeKind", format!("{:?}", ExchangeKind::Refresh)),
        (
            "Scope",
            format!("{:?} {}", Scope::AppendOnly, Scope::AppendOnly),
        ),
        ("authorization URL", consent.authorization_url()),
    ];
    for (what, shown) in &debug_only {
        assert_clean(what, shown, &verifier);
    }
    assert!(!format!("{file:?}").contains("SECRET-ID-TOKEN"));

    let errors: Vec<(&str, Box<dyn std::error::Error>)> = vec![
        ("RedirectError", Box::new(redirect_error)),
        ("RedirectError", Box::new(RedirectError::StateMismatch)),
        ("RedirectError", Box::new(RedirectError::AccessDenied)),
        ("RedirectError", Box::new(RedirectError::NotTheRedirect)),
        ("RedirectError", Box::new(RedirectError::Malformed("x"))),
        ("ConsentError", Box::new(ConsentError::NoScopes)),
        (
            "ScopeError",
            Box::new("photoslibrary".parse::<Scope>().unwrap_err()),
        ),
        ("ScopeError", Box::new(ScopeError::Unknown("x".into()))),
        (
            "RefreshError",
            Box::new(RefreshError::MissingField("refresh_token")),
        ),
        (
            "RefreshError",
            Box::new(
                TokenExchange::refresh(&TokenFile {
                    token_uri: Some("http://evil.example/token".into()),
                    ..file.clone()
                })
                .unwrap_err(),
            ),
        ),
        (
            "ClientSecretError",
            Box::new(
                OAuthClient::from_json(
                    format!(
                        r#"{{"installed": {{"client_id": 5, "client_secret": "{CLIENT_SECRET}"}}}}"#
                    )
                    .as_bytes(),
                )
                .unwrap_err(),
            ),
        ),
        (
            "ClientSecretError",
            Box::new(
                OAuthClient::from_json(
                    format!(
                        r#"{{"installed": {{"client_id": "c", "client_secret": "{CLIENT_SECRET}"}}"#
                    )
                    .as_bytes(),
                )
                .unwrap_err(),
            ),
        ),
        (
            "ClientSecretError",
            Box::new(ClientSecretError::ServiceAccountKey),
        ),
        (
            "TokenFileError",
            Box::new(
                TokenFile::from_json(format!(r#"{{"token": "{ACCESS}", "scopes": 1}}"#).as_bytes())
                    .unwrap_err(),
            ),
        ),
        (
            "TokenFileError",
            Box::new(
                TokenFile::from_json(format!(r#"{{"refresh_token": "{REFRESH}""#).as_bytes())
                    .unwrap_err(),
            ),
        ),
        (
            "TokenFileError",
            Box::new(TokenFileError::WrongKind("service_account".into())),
        ),
    ];
    let mut all = errors;
    for error in endpoint_errors {
        all.push(("TokenEndpointError", Box::new(error)));
    }
    for (what, error) in &all {
        assert_clean(what, &format!("{error}"), &verifier);
        assert_clean(what, &format!("{error:?}"), &verifier);
    }
}

/// The verifier, recovered from the exchange's form (the only place it appears).
fn consent_verifier(consent: &Consent) -> String {
    let request = consent.exchange(&AuthorizationCode::new("x")).request();
    let gphotos_upload::Payload::Bytes(body) = request.body() else {
        panic!("a form body")
    };
    let body = String::from_utf8(body.clone()).unwrap();
    let verifier = body.rsplit_once("code_verifier=").unwrap().1.to_owned();
    assert_eq!(verifier.len(), 43);
    verifier
}

fn any_consent() -> Consent {
    let client = OAuthClient::installed("id", ClientSecret::new("s"));
    Consent::new(&client, 8080, &[Scope::AppendOnly], [3; 32], [4; 32]).unwrap()
}

proptest! {
    #[test]
    fn token_files_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        if let Ok(file) = TokenFile::from_json(&bytes) {
            let again = TokenFile::from_json(&file.to_json()).unwrap();
            prop_assert_eq!(again.to_json(), file.to_json());
            let _ = file.needs_refresh(SystemTime::UNIX_EPOCH);
            let _ = TokenExchange::refresh(&file);
        }
        let _ = OAuthClient::from_json(&bytes);
    }

    #[test]
    fn json_shaped_token_files_never_panic(
        token in proptest::option::of(".{0,12}"),
        expiry in proptest::option::of("[0-9T:.Z-]{0,30}"),
        scopes in proptest::option::of(proptest::collection::vec(".{0,12}", 0..3)),
        extra in proptest::option::of(".{0,12}"),
    ) {
        let mut object = serde_json::Map::new();
        if let Some(token) = token { object.insert("token".into(), token.into()); }
        if let Some(expiry) = expiry { object.insert("expiry".into(), expiry.into()); }
        if let Some(scopes) = scopes { object.insert("scopes".into(), scopes.into()); }
        if let Some(extra) = extra { object.insert(extra.clone(), extra.into()); }
        let bytes = serde_json::to_vec(&object).unwrap();
        if let Ok(file) = TokenFile::from_json(&bytes) {
            let again = TokenFile::from_json(&file.to_json()).unwrap();
            prop_assert_eq!(again, file);
        }
    }

    #[test]
    fn redirects_never_panic(target in ".{0,80}") {
        let _ = any_consent().parse_redirect(&target);
    }

    #[test]
    fn query_shaped_redirects_never_panic(
        pairs in proptest::collection::vec(("(code|state|error|error_description|x|%[0-9a-fA-F]{0,2})", "[a-zA-Z0-9%+&=/]{0,10}"), 0..5)
    ) {
        let query: Vec<String> = pairs.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let _ = any_consent().parse_redirect(&format!("/?{}", query.join("&")));
    }

    #[test]
    fn token_replies_never_panic(
        status in 100u16..600,
        body in proptest::collection::vec(any::<u8>(), 0..128),
        expires_in in proptest::option::of(any::<i64>()),
        seconds in any::<u64>(),
    ) {
        let file = TokenFile {
            refresh_token: Some(RefreshToken::new("r")),
            client_id: Some("c".into()),
            client_secret: Some(ClientSecret::new("s")),
            ..TokenFile::default()
        };
        let now = UNIX_EPOCH.checked_add(Duration::from_secs(seconds)).unwrap_or(UNIX_EPOCH);
        let exchanges = [
            TokenExchange::refresh(&file).unwrap(),
            any_consent().exchange(&AuthorizationCode::new("c")),
        ];
        let json = match expires_in {
            Some(n) => format!(r#"{{"access_token": "a", "refresh_token": "r", "expires_in": {n}}}"#),
            None => r#"{"access_token": "a", "refresh_token": "r"}"#.to_owned(),
        };
        for exchange in &exchanges {
            for body in [body.clone(), json.clone().into_bytes()] {
                let reply = http::Response::builder().status(status).body(body).unwrap();
                if let Ok(file) = exchange.handle_response(now, &reply) {
                    let _ = file.to_json();
                }
            }
        }
    }
}
