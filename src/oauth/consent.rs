//! The installed-app consent flow (RFC 8252 with PKCE, RFC 7636): the authorization URL to open in
//! the browser, the loopback redirect it comes back with, and the code exchange.

use std::fmt;

use http::StatusCode;
use http::header::{
    CACHE_CONTROL, CONNECTION, CONTENT_LENGTH, CONTENT_TYPE, HeaderValue, REFERRER_POLICY,
};
use sha2::{Digest, Sha256};

use super::exchange::TokenExchange;
use super::form::{base64url_nopad, decode_query, encode_pairs};
use super::scope::join;
use super::secrets::{AuthorizationCode, CodeVerifier};
use super::{OAuthClient, Scope};

/// One consent attempt: holds the PKCE verifier and the `state` until the browser comes back.
///
/// The adapter binds a loopback listener, creates this with the listener's port and fresh random
/// bytes, opens [`Consent::authorization_url`], feeds each request target the listener receives to
/// [`Consent::parse_redirect`] (answering the browser with [`Consent::browser_reply`]), and sends
/// [`Consent::exchange`] for the code it yields.
#[derive(Clone)]
pub struct Consent {
    client: OAuthClient,
    redirect_uri: String,
    scopes: Vec<Scope>,
    state: String,
    verifier: CodeVerifier,
}

/// A consent that cannot be asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConsentError {
    /// No scope was requested; Google refuses such a request.
    NoScopes,
}

impl fmt::Display for ConsentError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoScopes => write!(f, "a consent request needs at least one scope"),
        }
    }
}

impl std::error::Error for ConsentError {}

/// What the loopback listener received, when it is not an authorization code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RedirectError {
    /// Not the redirect (for example `/favicon.ico`, or `/` without `code` or `error`): answer it
    /// with 404 and keep listening.
    NotTheRedirect,
    /// `state` is missing or differs from ours: the request did not come from our consent (a
    /// cross-site request forgery, or a stale browser tab). Keep listening or start again.
    StateMismatch,
    /// `error=access_denied`: the user declined (or unticked every permission).
    AccessDenied,
    /// Another `error` from the consent page (`admin_policy_enforced`, `invalid_scope`, ...).
    Authorization {
        /// The `error` parameter.
        error: String,
        /// The `error_description` parameter, if any.
        description: Option<String>,
    },
    /// A redirect that cannot be read: bad percent-encoding, a repeated parameter, an empty code.
    Malformed(&'static str),
}

impl RedirectError {
    /// Whether the listener should keep waiting for the real redirect rather than give up.
    pub fn keep_listening(&self) -> bool {
        matches!(self, Self::NotTheRedirect | Self::StateMismatch)
    }
}

impl fmt::Display for RedirectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const AGAIN: &str = "run `gphotos-upload auth login` again";
        match self {
            Self::NotTheRedirect => write!(f, "this request is not the consent redirect"),
            Self::StateMismatch => write!(
                f,
                "the consent redirect's state does not match this login (a forged request or a \
                 stale browser tab); {AGAIN} and use the page it opens"
            ),
            Self::AccessDenied => write!(
                f,
                "access was declined on Google's consent page; {AGAIN} and allow access to \
                 Google Photos"
            ),
            Self::Authorization { error, description } => {
                write!(f, "the consent page returned the error {error}")?;
                if let Some(description) = description {
                    write!(f, " ({description})")?;
                }
                write!(f, "; {AGAIN}")
            }
            Self::Malformed(reason) => write!(f, "the consent redirect is malformed: {reason}"),
        }
    }
}

impl std::error::Error for RedirectError {}

impl Consent {
    /// Prepares a consent for `scopes` (duplicates dropped) with the redirect URI
    /// `http://127.0.0.1:<port>`. The `state` is base64url of `state_random`, the PKCE verifier
    /// base64url of `verifier_random` (43 characters each): pass fresh bytes from a CSPRNG.
    ///
    /// # Errors
    /// [`ConsentError::NoScopes`] when `scopes` is empty.
    pub fn new(
        client: &OAuthClient,
        port: u16,
        scopes: &[Scope],
        state_random: [u8; 32],
        verifier_random: [u8; 32],
    ) -> Result<Self, ConsentError> {
        let mut unique = Vec::with_capacity(scopes.len());
        for scope in scopes {
            if !unique.contains(scope) {
                unique.push(*scope);
            }
        }
        if unique.is_empty() {
            return Err(ConsentError::NoScopes);
        }
        Ok(Self {
            client: client.clone(),
            redirect_uri: format!("http://127.0.0.1:{port}"),
            scopes: unique,
            state: base64url_nopad(&state_random),
            verifier: CodeVerifier::new(base64url_nopad(&verifier_random)),
        })
    }

    /// The redirect URI, `http://127.0.0.1:<port>`.
    pub fn redirect_uri(&self) -> &str {
        &self.redirect_uri
    }

    /// The requested scopes.
    pub fn scopes(&self) -> &[Scope] {
        &self.scopes
    }

    /// The PKCE `code_challenge`: base64url (no padding) of the SHA-256 of the verifier.
    pub fn code_challenge(&self) -> String {
        base64url_nopad(&Sha256::digest(self.verifier.expose().as_bytes()))
    }

    /// The URL to open in the browser: the client's `auth_uri` with `client_id`, `redirect_uri`,
    /// `response_type=code`, `scope`, `state`, `code_challenge`, `code_challenge_method=S256`,
    /// `access_type=offline` (so a refresh token comes back) and `prompt=consent` (so it comes back
    /// every time). It holds no secret.
    pub fn authorization_url(&self) -> String {
        let scope = join(&self.scopes);
        let challenge = self.code_challenge();
        let query = encode_pairs(&[
            ("client_id", self.client.client_id()),
            ("redirect_uri", &self.redirect_uri),
            ("response_type", "code"),
            ("scope", &scope),
            ("state", &self.state),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
            ("access_type", "offline"),
            ("prompt", "consent"),
        ]);
        let base = self.client.auth_uri();
        let separator = if base.contains('?') { '&' } else { '?' };
        format!("{base}{separator}{query}")
    }

    /// Reads the request target the loopback listener received: origin-form (`/?code=..&state=..`)
    /// or absolute-form (`http://127.0.0.1:<port>/?..`). Checks `state` before anything else is
    /// believed, then returns the code or the consent page's error.
    ///
    /// # Errors
    /// [`RedirectError`]; [`RedirectError::keep_listening`] says whether to wait for another request.
    pub fn parse_redirect(&self, target: &str) -> Result<AuthorizationCode, RedirectError> {
        let target = target.trim();
        let target = target.split_once('#').map_or(target, |(before, _)| before);
        let origin_form = match target
            .strip_prefix("http://")
            .or_else(|| target.strip_prefix("https://"))
        {
            Some(rest) => rest.find(['/', '?']).map_or("", |at| &rest[at..]),
            None => target,
        };
        let (path, query) = origin_form.split_once('?').unwrap_or((origin_form, ""));
        if !matches!(path, "" | "/") {
            return Err(RedirectError::NotTheRedirect);
        }
        let pairs =
            decode_query(query).ok_or(RedirectError::Malformed("a parameter is badly encoded"))?;
        let get = |name: &str| -> Result<Option<&str>, RedirectError> {
            let mut found = pairs.iter().filter(|(key, _)| key == name);
            let first = found.next().map(|(_, value)| value.as_str());
            if found.next().is_some() {
                return Err(RedirectError::Malformed("a parameter is repeated"));
            }
            Ok(first)
        };
        let code = get("code")?;
        let error = get("error")?;
        if code.is_none() && error.is_none() {
            return Err(RedirectError::NotTheRedirect);
        }
        if !get("state")?.is_some_and(|state| same(state.as_bytes(), self.state.as_bytes())) {
            return Err(RedirectError::StateMismatch);
        }
        if let Some(error) = error {
            return Err(if error == "access_denied" {
                RedirectError::AccessDenied
            } else {
                RedirectError::Authorization {
                    error: printable(error, 100),
                    description: get("error_description")?
                        .filter(|d| !d.is_empty())
                        .map(|d| printable(d, 300)),
                }
            });
        }
        match code {
            Some(code) if !code.is_empty() => Ok(AuthorizationCode::new(code)),
            _ => Err(RedirectError::Malformed("the code is empty")),
        }
    }

    /// The code exchange: a form POST to the client's `token_uri` with `code`, `client_id`,
    /// `client_secret`, `redirect_uri`, `grant_type=authorization_code` and `code_verifier`. Its
    /// [`TokenExchange::handle_response`] yields the new token file: the client's identifiers
    /// and `token_uri`, the granted scopes (the requested ones when the reply lists none),
    /// `universe_domain` and `account` as google-auth writes them.
    pub fn exchange(&self, code: &AuthorizationCode) -> TokenExchange {
        TokenExchange::authorization_code(
            &self.client,
            code,
            &self.verifier,
            &self.redirect_uri,
            &self.scopes,
        )
    }
}

impl Consent {
    /// The page the loopback listener sends back to the browser for a request it fed to
    /// [`Consent::parse_redirect`]: 200 with "you can close this tab" for a code, 404 for a request
    /// that is not the redirect, 400 with the error's message otherwise. The page holds no secret,
    /// no link and no script, and is sent with `Cache-Control: no-store`,
    /// `Referrer-Policy: no-referrer` and `Connection: close`.
    pub fn browser_reply(
        outcome: &Result<AuthorizationCode, RedirectError>,
    ) -> http::Response<Vec<u8>> {
        let (status, title, message) = match outcome {
            Ok(_) => (
                StatusCode::OK,
                "Access granted",
                "gphotos-upload may now upload to your Google Photos library. You can close this \
                 tab and return to the terminal."
                    .to_owned(),
            ),
            Err(RedirectError::NotTheRedirect) => (
                StatusCode::NOT_FOUND,
                "Not found",
                "This address only receives Google's consent redirect.".to_owned(),
            ),
            Err(error) => (StatusCode::BAD_REQUEST, "Login failed", error.to_string()),
        };
        let body = format!(
            "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>gphotos-upload: {title}\
             </title></head><body><h1>{title}</h1><p>{}</p></body></html>\n",
            html_escape(&message)
        )
        .into_bytes();
        let mut response = http::Response::new(Vec::new());
        *response.status_mut() = status;
        let headers = response.headers_mut();
        headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        );
        headers.insert(CONTENT_LENGTH, HeaderValue::from(body.len()));
        headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
        headers.insert(REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
        headers.insert(CONNECTION, HeaderValue::from_static("close"));
        *response.body_mut() = body;
        response
    }
}

/// Text made safe inside an HTML element.
fn html_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for ch in text.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            other => out.push(other),
        }
    }
    out
}

impl fmt::Debug for Consent {
    // The verifier is a secret and the state guards against forgery: neither is shown.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Consent")
            .field("client", &self.client)
            .field("redirect_uri", &self.redirect_uri)
            .field("scopes", &self.scopes)
            .finish_non_exhaustive()
    }
}

/// Compares without stopping at the first difference.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// At most `max` characters of `text` with control characters dropped, for an error message.
fn printable(text: &str, max: usize) -> String {
    text.chars().filter(|c| !c.is_control()).take(max).collect()
}
