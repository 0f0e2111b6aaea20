//! OAuth 2.0 as Google's installed-app flow needs it: a consent endpoint that approves at once and
//! redirects to the loopback listener, a token endpoint (authorization code with PKCE S256, refresh),
//! and the bearer-token check every Library call goes through.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::http::Head;
use crate::random::secret_hex;
use crate::response::Response;
use crate::state::{MAX_RECORDS, Shared};

/// Authorization codes are good for this long (Google: a few minutes).
const CODE_LIFETIME: Duration = Duration::from_secs(600);

/// Codes and tokens handed out, and tokens expired by faults.
#[derive(Debug, Default)]
pub(crate) struct OAuthState {
    codes: HashMap<String, Grant>,
    /// Access tokens issued here, with their expiry.
    access: HashMap<String, Instant>,
    refresh: HashMap<String, RefreshGrant>,
    /// Tokens an `expire-token` fault killed.
    revoked: HashSet<String>,
}

#[derive(Debug)]
struct Grant {
    client_id: String,
    redirect_uri: String,
    challenge: Option<String>,
    scope: String,
    issued: Instant,
}

#[derive(Debug)]
struct RefreshGrant {
    client_id: String,
    scope: String,
}

/// The bearer token of a request, if it has a well-formed one.
fn bearer(head: &Head) -> Option<&str> {
    let value = head.header("authorization")?;
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// Accepts the request's bearer token or answers 401 in Google's shape.
pub(crate) fn check_bearer(shared: &Shared, head: &Head) -> Result<(), Response> {
    let refuse = |message: &str| {
        Err(Response::google_error(401, message).header(
            "WWW-Authenticate",
            "Bearer realm=\"https://accounts.google.com/\"",
        ))
    };
    let Some(token) = bearer(head) else {
        return refuse(
            "Request is missing required authentication credential. Expected OAuth 2 access token, login cookie or other valid authentication credential.",
        );
    };
    let state = shared.state();
    let oauth = &state.oauth;
    if oauth.revoked.contains(token) {
        return refuse("Request had invalid authentication credentials. The access token expired.");
    }
    if let Some(expiry) = oauth.access.get(token) {
        if Instant::now() >= *expiry {
            return refuse(
                "Request had invalid authentication credentials. The access token expired.",
            );
        }
        return Ok(());
    }
    match &shared.config.access_token {
        Some(accepted) if accepted != token => refuse(
            "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.",
        ),
        _ => Ok(()),
    }
}

/// The `expire-token` fault: the token on this request stops working now.
pub(crate) fn expire_presented_token(shared: &Shared, head: &Head) {
    if let Some(token) = bearer(head) {
        let mut state = shared.state();
        state.oauth.access.remove(token);
        state.oauth.revoked.insert(token.to_owned());
    }
}

fn is_loopback_redirect(uri: &str) -> bool {
    // It goes back out in the `Location` header: a line break would forge headers of its own.
    if uri.chars().any(char::is_control) {
        return false;
    }
    let Some(rest) = uri.strip_prefix("http://") else {
        return false;
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = if authority.starts_with('[') {
        authority.split_inclusive(']').next().unwrap_or_default()
    } else {
        authority.split(':').next().unwrap_or_default()
    };
    let port_ok = authority[host.len()..]
        .strip_prefix(':')
        .is_none_or(|port| port.parse::<u16>().is_ok());
    port_ok && matches!(host, "127.0.0.1" | "localhost" | "[::1]")
}

/// `GET /oauth2/auth`: consent is given at once; 302 back to the loopback redirect URI.
pub(crate) fn consent(shared: &Shared, head: &Head) -> Response {
    let param = |name| head.query_param(name).filter(|v| !v.is_empty());
    let bad =
        |message: String| Response::text(400, format!("Error 400: invalid_request\n{message}\n"));
    let Some(redirect_uri) = param("redirect_uri") else {
        return bad("Missing required parameter: redirect_uri".into());
    };
    if !is_loopback_redirect(&redirect_uri) {
        return Response::text(
            400,
            "Error 400: redirect_uri_mismatch\nredirect_uri must be http:// on a loopback address (127.0.0.1, [::1] or localhost)\n",
        );
    }
    let Some(client_id) = param("client_id") else {
        return bad("Missing required parameter: client_id".into());
    };
    if param("response_type").as_deref() != Some("code") {
        return bad("response_type must be `code`".into());
    }
    let Some(scope) = param("scope") else {
        return bad("Missing required parameter: scope".into());
    };
    let challenge = param("code_challenge");
    if challenge.is_some() && param("code_challenge_method").as_deref() != Some("S256") {
        return bad("code_challenge_method must be S256".into());
    }
    let code = format!("4/{}", secret_hex(24));
    {
        let mut state = shared.state();
        let now = Instant::now();
        state
            .oauth
            .codes
            .retain(|_, g| now.duration_since(g.issued) < CODE_LIFETIME);
        if state.oauth.codes.len() >= MAX_RECORDS {
            return Response::google_error(503, "too many outstanding authorization codes");
        }
        state.oauth.codes.insert(
            code.clone(),
            Grant {
                client_id,
                redirect_uri: redirect_uri.clone(),
                challenge,
                scope: scope.clone(),
                issued: now,
            },
        );
    }
    let mut query = form_urlencoded::Serializer::new(String::new());
    if let Some(state) = head.query_param("state") {
        query.append_pair("state", &state);
    }
    query
        .append_pair("code", &code)
        .append_pair("scope", &scope);
    let separator = if redirect_uri.contains('?') { '&' } else { '?' };
    Response::new(302).header(
        "Location",
        format!("{redirect_uri}{separator}{}", query.finish()),
    )
}

fn grant_error(error: &str, description: &str) -> Response {
    Response::json(
        400,
        &json!({"error": error, "error_description": description}),
    )
}

/// `POST /oauth2/token` with a form body.
pub(crate) fn token(shared: &Shared, head: &Head, body: &[u8]) -> Response {
    let form_type = head.header("content-type").is_some_and(|v| {
        v.to_ascii_lowercase()
            .starts_with("application/x-www-form-urlencoded")
    });
    if !form_type {
        return grant_error(
            "invalid_request",
            "Content-Type must be application/x-www-form-urlencoded",
        );
    }
    let form: HashMap<String, String> = form_urlencoded::parse(body).into_owned().collect();
    let field = |name: &str| form.get(name).map(String::as_str).filter(|v| !v.is_empty());
    match field("grant_type") {
        Some("authorization_code") => {
            let (Some(code), Some(client_id), Some(redirect_uri)) =
                (field("code"), field("client_id"), field("redirect_uri"))
            else {
                return grant_error(
                    "invalid_request",
                    "code, client_id and redirect_uri are required",
                );
            };
            exchange_code(
                shared,
                code,
                client_id,
                redirect_uri,
                field("code_verifier"),
            )
        }
        Some("refresh_token") => {
            let Some(refresh) = field("refresh_token") else {
                return grant_error(
                    "invalid_request",
                    "Missing required parameter: refresh_token",
                );
            };
            let mut state = shared.state();
            let Some(grant) = state.oauth.refresh.get(refresh) else {
                return grant_error("invalid_grant", "Token has been expired or revoked.");
            };
            if field("client_id").is_some_and(|id| id != grant.client_id) {
                return grant_error(
                    "invalid_grant",
                    "The refresh token was issued to another client.",
                );
            }
            let scope = grant.scope.clone();
            match issue_access(shared, &mut state.oauth) {
                Ok(access) => token_reply(shared, &access, None, &scope),
                Err(response) => response,
            }
        }
        Some(other) => grant_error(
            "unsupported_grant_type",
            &format!("Invalid grant_type: {other}"),
        ),
        None => grant_error("invalid_request", "Missing required parameter: grant_type"),
    }
}

fn exchange_code(
    shared: &Shared,
    code: &str,
    client_id: &str,
    redirect_uri: &str,
    verifier: Option<&str>,
) -> Response {
    let mut state = shared.state();
    // A code is spent by any attempt, as at Google: a failed exchange cannot be retried.
    let Some(grant) = state.oauth.codes.remove(code) else {
        return grant_error(
            "invalid_grant",
            "Malformed auth code, or the code was already used.",
        );
    };
    if grant.issued.elapsed() >= CODE_LIFETIME {
        return grant_error("invalid_grant", "The authorization code expired.");
    }
    if grant.client_id != client_id {
        return grant_error("invalid_grant", "The code was issued to another client.");
    }
    if grant.redirect_uri != redirect_uri {
        return grant_error(
            "invalid_grant",
            "redirect_uri does not match the one used for consent.",
        );
    }
    if let Some(challenge) = &grant.challenge {
        let Some(verifier) = verifier else {
            return grant_error("invalid_grant", "Missing code verifier.");
        };
        if URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes())) != *challenge {
            return grant_error("invalid_grant", "Invalid code verifier.");
        }
    }
    let refresh = format!("1//{}", secret_hex(32));
    if state.oauth.refresh.len() >= MAX_RECORDS {
        return Response::google_error(503, "too many refresh tokens issued");
    }
    state.oauth.refresh.insert(
        refresh.clone(),
        RefreshGrant {
            client_id: grant.client_id.clone(),
            scope: grant.scope.clone(),
        },
    );
    match issue_access(shared, &mut state.oauth) {
        Ok(access) => token_reply(shared, &access, Some(&refresh), &grant.scope),
        Err(response) => response,
    }
}

fn issue_access(shared: &Shared, oauth: &mut OAuthState) -> Result<String, Response> {
    let now = Instant::now();
    if oauth.access.len() >= MAX_RECORDS {
        oauth.access.retain(|_, expiry| *expiry > now);
        if oauth.access.len() >= MAX_RECORDS {
            return Err(Response::google_error(503, "too many live access tokens"));
        }
    }
    let token = format!("ya29.{}", secret_hex(32));
    oauth
        .access
        .insert(token.clone(), now + shared.config.access_token_lifetime);
    Ok(token)
}

fn token_reply(shared: &Shared, access: &str, refresh: Option<&str>, scope: &str) -> Response {
    let mut body = json!({
        "access_token": access,
        "expires_in": shared.config.access_token_lifetime.as_secs(),
        "scope": scope,
        "token_type": "Bearer",
    });
    if let Some(refresh) = refresh {
        body["refresh_token"] = json!(refresh);
    }
    Response::json(200, &body).header("Cache-Control", "no-store")
}

#[cfg(test)]
mod tests {
    use super::is_loopback_redirect;

    #[test]
    fn only_loopback_http_redirects() {
        for good in [
            "http://127.0.0.1:8080",
            "http://127.0.0.1:8080/cb?x=1",
            "http://localhost/",
            "http://[::1]:9",
        ] {
            assert!(is_loopback_redirect(good), "{good}");
        }
        for bad in [
            "https://127.0.0.1:8080",
            "http://127.0.0.1.evil.com/",
            "http://example.com",
            "http://localhost:99999",
            "http://[::1",
            "urn:ietf:wg:oauth:2.0:oob",
        ] {
            assert!(!is_loopback_redirect(bad), "{bad}");
        }
    }
}
