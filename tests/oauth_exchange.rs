//! The token endpoint exchange: refresh requests, replies and every error class.

use std::time::{Duration, SystemTime};

use gphotos_upload::oauth::{
    ExchangeKind, RefreshError, TokenEndpointError, TokenExchange, TokenFile, parse_expiry,
};
use gphotos_upload::{AccessToken, ClientSecret, EndpointError, Payload, RefreshToken, RequestId};
use http::Response;

fn now() -> SystemTime {
    parse_expiry("2025-06-01T10:20:30.5Z").unwrap()
}

fn saved() -> TokenFile {
    TokenFile {
        token: Some(AccessToken::new("ya29.old-access")),
        refresh_token: Some(RefreshToken::new("1//old-refresh")),
        token_uri: Some("https://oauth2.googleapis.com/token".into()),
        client_id: Some("client-id.apps.googleusercontent.com".into()),
        client_secret: Some(ClientSecret::new("GOCSPX-secret")),
        scopes: Some(vec![
            "https://www.googleapis.com/auth/photoslibrary.appendonly".into(),
        ]),
        expiry: parse_expiry("2025-06-01T10:00:00Z"),
        ..TokenFile::default()
    }
}

fn reply(status: u16, body: &str) -> Response<Vec<u8>> {
    Response::builder()
        .status(status)
        .body(body.as_bytes().to_vec())
        .unwrap()
}

fn body_text(request: &http::Request<Payload>) -> String {
    match request.body() {
        Payload::Bytes(bytes) => String::from_utf8(bytes.clone()).unwrap(),
        other => panic!("expected a form body, got {other:?}"),
    }
}

#[test]
fn builds_the_refresh_form_post() {
    let exchange = TokenExchange::refresh(&saved()).unwrap();
    assert_eq!(exchange.kind(), ExchangeKind::Refresh);
    let request = exchange.request();
    assert_eq!(request.method(), http::Method::POST);
    assert_eq!(request.uri(), "https://oauth2.googleapis.com/token");
    assert_eq!(
        request.headers()["content-type"],
        "application/x-www-form-urlencoded"
    );
    assert!(request.headers().get("authorization").is_none());
    let body = body_text(&request);
    assert_eq!(
        body,
        "grant_type=refresh_token&client_id=client-id.apps.googleusercontent.com\
         &client_secret=GOCSPX-secret&refresh_token=1%2F%2Fold-refresh"
    );
    assert_eq!(
        request.headers()["content-length"].to_str().unwrap(),
        body.len().to_string()
    );

    let transmit = exchange.transmit(RequestId(7));
    assert_eq!(transmit.id, RequestId(7));
    assert!(
        !transmit.bearer,
        "the token endpoint never gets the bearer token"
    );
    let authorized = transmit.authorize(Some(&AccessToken::new("ya29.old-access")));
    assert!(authorized.headers().get("authorization").is_none());
}

#[test]
fn sends_the_rapt_token_when_the_file_has_one() {
    let mut file = saved();
    file.rapt_token = Some(gphotos_upload::oauth::RaptToken::new("rapt-1"));
    let body = body_text(&TokenExchange::refresh(&file).unwrap().request());
    assert!(body.ends_with("&rapt=rapt-1"), "{body}");
}

#[test]
fn refreshes_at_the_files_token_uri_or_googles() {
    let mut file = saved();
    file.token_uri = Some("http://127.0.0.1:8085/oauth/token".into());
    let exchange = TokenExchange::refresh(&file).unwrap();
    assert_eq!(exchange.uri(), "http://127.0.0.1:8085/oauth/token");

    file.token_uri = None;
    assert_eq!(
        TokenExchange::refresh(&file).unwrap().uri(),
        "https://oauth2.googleapis.com/token"
    );
}

#[test]
fn refuses_an_insecure_or_broken_token_uri() {
    let mut file = saved();
    file.token_uri = Some("http://oauth2.example.com/token".into());
    assert_eq!(
        TokenExchange::refresh(&file).unwrap_err(),
        RefreshError::TokenUri(EndpointError::InsecureHost("oauth2.example.com".into()))
    );
    file.token_uri = Some("token".into());
    assert!(matches!(
        TokenExchange::refresh(&file).unwrap_err(),
        RefreshError::TokenUri(EndpointError::NotAUrl(_))
    ));
}

#[test]
fn refuses_a_file_that_cannot_be_refreshed() {
    for (field, file) in [
        (
            "refresh_token",
            TokenFile {
                refresh_token: None,
                ..saved()
            },
        ),
        (
            "refresh_token",
            TokenFile {
                refresh_token: Some(RefreshToken::new("")),
                ..saved()
            },
        ),
        (
            "client_id",
            TokenFile {
                client_id: None,
                ..saved()
            },
        ),
        (
            "client_secret",
            TokenFile {
                client_secret: None,
                ..saved()
            },
        ),
    ] {
        let error = TokenExchange::refresh(&file).unwrap_err();
        assert_eq!(error, RefreshError::MissingField(field));
        assert!(error.to_string().contains("auth login"), "{error}");
    }
}

#[test]
fn a_refresh_keeps_the_old_refresh_token_and_everything_else() {
    let mut before = saved();
    before.extra.insert("x_other".into(), "kept".into());
    before.account = Some("someone@example.com".into());
    let exchange = TokenExchange::refresh(&before).unwrap();
    let after = exchange
        .handle_response(
            now(),
            &reply(
                200,
                r#"{"access_token": "ya29.new-access", "expires_in": 3599,
                    "scope": "https://www.googleapis.com/auth/photoslibrary.appendonly",
                    "token_type": "Bearer", "id_token": "ignored"}"#,
            ),
        )
        .unwrap();
    assert_eq!(after.token.as_ref().unwrap().expose(), "ya29.new-access");
    assert_eq!(after.refresh_token, before.refresh_token);
    assert_eq!(after.expiry, Some(now() + Duration::from_secs(3599)));
    assert_eq!(
        TokenFile {
            token: before.token.clone(),
            expiry: before.expiry,
            ..after.clone()
        },
        before,
        "only the access token and its expiry change"
    );
    assert!(!after.needs_refresh(now()));
    assert!(after.needs_refresh(now() + Duration::from_secs(3599 - 225)));
}

#[test]
fn a_refresh_takes_a_rotated_refresh_token() {
    let after = TokenExchange::refresh(&saved())
        .unwrap()
        .handle_response(
            now(),
            &reply(
                200,
                r#"{"access_token": "a", "expires_in": "60", "refresh_token": "1//rotated"}"#,
            ),
        )
        .unwrap();
    assert_eq!(after.refresh_token.unwrap().expose(), "1//rotated");
    assert_eq!(after.expiry, Some(now() + Duration::from_secs(60)));
}

#[test]
fn lifetimes_are_defaulted_and_capped() {
    let exchange = TokenExchange::refresh(&saved()).unwrap();
    let expiry = |body: &str| {
        exchange
            .handle_response(now(), &reply(200, body))
            .map(|file| file.expiry.unwrap().duration_since(now()).unwrap())
    };
    assert_eq!(
        expiry(r#"{"access_token": "a"}"#),
        Ok(Duration::from_secs(3600))
    );
    assert_eq!(
        expiry(r#"{"access_token": "a", "expires_in": 99999999999999}"#),
        Ok(Duration::from_secs(86_400))
    );
    assert_eq!(
        expiry(r#"{"access_token": "a", "expires_in": 1e300}"#),
        Ok(Duration::from_secs(86_400))
    );
    assert_eq!(
        expiry(r#"{"access_token": "a", "expires_in": 12.7}"#),
        Ok(Duration::from_secs(12))
    );
    for bad in [
        r#"{"access_token": "a", "expires_in": -1}"#,
        r#"{"access_token": "a", "expires_in": "soon"}"#,
        r#"{"access_token": "a", "expires_in": [1]}"#,
    ] {
        assert!(
            matches!(
                expiry(bad),
                Err(TokenEndpointError::Malformed { status: 200, .. })
            ),
            "{bad}"
        );
    }
}

#[test]
fn invalid_grant_asks_for_consent_again() {
    let error = TokenExchange::refresh(&saved())
        .unwrap()
        .handle_response(
            now(),
            &reply(
                400,
                r#"{"error": "invalid_grant", "error_description": "Token has been expired or revoked."}"#,
            ),
        )
        .unwrap_err();
    assert_eq!(
        error,
        TokenEndpointError::ConsentRequired {
            kind: ExchangeKind::Refresh,
            description: Some("Token has been expired or revoked.".into()),
        }
    );
    assert!(error.needs_consent() && !error.is_retryable());
    let shown = error.to_string();
    assert!(shown.contains("gphotos-upload auth login"), "{shown}");
    assert!(
        shown.contains("Token has been expired or revoked."),
        "{shown}"
    );
}

#[test]
#[allow(clippy::too_many_lines)] // one table of replies and their classes
fn classifies_every_error() {
    let exchange = TokenExchange::refresh(&saved()).unwrap();
    let check = |status: u16, body: &str, expected: TokenEndpointError| {
        let error = exchange
            .handle_response(now(), &reply(status, body))
            .unwrap_err();
        assert_eq!(error, expected, "{status} {body}");
        assert!(!error.to_string().is_empty());
    };
    check(
        401,
        r#"{"error": "invalid_client", "error_description": "The OAuth client was not found."}"#,
        TokenEndpointError::ClientRejected {
            error: "invalid_client".into(),
            description: Some("The OAuth client was not found.".into()),
        },
    );
    check(
        400,
        r#"{"error": "unauthorized_client"}"#,
        TokenEndpointError::ClientRejected {
            error: "unauthorized_client".into(),
            description: None,
        },
    );
    check(
        400,
        r#"{"error": "invalid_scope", "error_description": ""}"#,
        TokenEndpointError::Rejected {
            status: 400,
            error: "invalid_scope".into(),
            description: None,
        },
    );
    check(
        200,
        r#"{"error": "invalid_request"}"#,
        TokenEndpointError::Rejected {
            status: 200,
            error: "invalid_request".into(),
            description: None,
        },
    );
    check(
        400,
        r#"{"error": "temporarily_unavailable"}"#,
        TokenEndpointError::Retryable {
            status: 400,
            retry_after: None,
        },
    );
    for status in [408, 429, 500, 502, 503, 504] {
        check(
            status,
            "<html>busy</html>",
            TokenEndpointError::Retryable {
                status,
                retry_after: None,
            },
        );
    }
    check(404, "Not Found", TokenEndpointError::Status { status: 404 });
    check(
        400,
        r#"{"message": "no error key"}"#,
        TokenEndpointError::Status { status: 400 },
    );
    check(
        200,
        "<html>captive portal</html>",
        TokenEndpointError::Malformed {
            status: 200,
            reason: "the body is not a JSON object",
        },
    );
    check(
        200,
        "[]",
        TokenEndpointError::Malformed {
            status: 200,
            reason: "the body is not a JSON object",
        },
    );
    check(
        200,
        r#"{"expires_in": 3599}"#,
        TokenEndpointError::Malformed {
            status: 200,
            reason: "it has no access_token",
        },
    );
    check(
        200,
        r#"{"access_token": ""}"#,
        TokenEndpointError::Malformed {
            status: 200,
            reason: "it has no access_token",
        },
    );
    check(
        200,
        r#"{"access_token": "a", "token_type": "MAC"}"#,
        TokenEndpointError::Malformed {
            status: 200,
            reason: "its token_type is not Bearer",
        },
    );
    check(
        200,
        r#"{"access_token": "a", "refresh_token": 5}"#,
        TokenEndpointError::Malformed {
            status: 200,
            reason: "its refresh_token is not a string",
        },
    );
}

#[test]
fn retryable_replies_carry_retry_after() {
    let exchange = TokenExchange::refresh(&saved()).unwrap();
    let busy = Response::builder()
        .status(429)
        .header("retry-after", "17")
        .body(Vec::new())
        .unwrap();
    let error = exchange.handle_response(now(), &busy).unwrap_err();
    assert_eq!(
        error,
        TokenEndpointError::Retryable {
            status: 429,
            retry_after: Some(Duration::from_secs(17)),
        }
    );
    assert!(error.is_retryable());
    assert!(error.to_string().contains("17 s"));
}

#[test]
fn server_text_never_echoes_a_secret() {
    let exchange = TokenExchange::refresh(&saved()).unwrap();
    let error = exchange
        .handle_response(
            now(),
            &reply(
                400,
                r#"{"error": "invalid_grant 1//old-refresh", "error_description": "bad token 1//old-refresh for GOCSPX-secret\u001b[31m"}"#,
            ),
        )
        .unwrap_err();
    let shown = format!("{error} {error:?}");
    assert!(!shown.contains("1//old-refresh"), "{shown}");
    assert!(!shown.contains("GOCSPX-secret"), "{shown}");
    assert!(!shown.contains('\u{1b}'), "{shown}");
    assert!(shown.contains("<redacted>"), "{shown}");
}

#[test]
fn the_same_exchange_can_be_sent_again_after_a_retryable_failure() {
    let exchange = TokenExchange::refresh(&saved()).unwrap();
    let first = exchange.request();
    assert!(
        exchange
            .handle_response(now(), &reply(503, ""))
            .unwrap_err()
            .is_retryable()
    );
    let second = exchange.request();
    assert_eq!(body_text(&first), body_text(&second));
    assert!(
        exchange
            .handle_response(now(), &reply(200, r#"{"access_token": "a"}"#))
            .is_ok()
    );
}

#[test]
fn server_text_loses_anything_that_looks_like_a_token() {
    let exchange = TokenExchange::refresh(&saved()).unwrap();
    let unknown = "ya29.a0AfB_byC3xyzxyzxyzxyzxyzxyzxyzxyzxyz";
    let error = exchange
        .handle_response(
            now(),
            &reply(
                400,
                &format!(
                    r#"{{"error": "invalid_request", "error_description": "Bad token {unknown} here"}}"#
                ),
            ),
        )
        .unwrap_err();
    assert_eq!(
        error,
        TokenEndpointError::Rejected {
            status: 400,
            error: "invalid_request".into(),
            description: Some("Bad token <redacted> here".into()),
        }
    );
}

#[test]
fn a_null_error_key_does_not_spoil_a_success() {
    let file = TokenExchange::refresh(&saved())
        .unwrap()
        .handle_response(
            now(),
            &reply(200, r#"{"access_token": "a", "error": null}"#),
        )
        .unwrap();
    assert_eq!(file.token.unwrap().expose(), "a");
}

#[test]
fn huge_error_descriptions_are_cut_short() {
    let long = "word ".repeat(100_000);
    let error = TokenExchange::refresh(&saved())
        .unwrap()
        .handle_response(
            now(),
            &reply(
                400,
                &format!(r#"{{"error": "invalid_request", "error_description": "{long}"}}"#),
            ),
        )
        .unwrap_err();
    let TokenEndpointError::Rejected {
        description: Some(description),
        ..
    } = error
    else {
        panic!("{error:?}")
    };
    assert_eq!(description.chars().count(), 300);
}
