//! The token endpoint exchange, shared by the refresh (`grant_type=refresh_token`) and the consent
//! flow's code exchange (`grant_type=authorization_code`): a form POST out, a JSON reply in.

use std::fmt;
use std::time::{Duration, SystemTime};

use http::header::{ACCEPT, CONTENT_LENGTH, CONTENT_TYPE, HeaderValue};
use http::{Method, StatusCode, Uri};
use serde_json::{Map, Value};

use super::form::encode_pairs;
use super::secrets::{AuthorizationCode, CodeVerifier};
use super::token_file::TokenFile;
use super::token_uri;
use super::{OAuthClient, Scope};
use crate::{AccessToken, EndpointError, Payload, RefreshToken, RequestId, Transmit};

/// Lifetime assumed when a successful reply carries no `expires_in` (RFC 6749 makes it optional;
/// Google always sends it, and its access tokens live one hour).
const DEFAULT_LIFETIME: Duration = Duration::from_secs(3600);

/// Longest lifetime believed: a longer `expires_in` is cut to this (refreshing early is harmless,
/// and the expiry stays a date google-auth can read).
const MAX_LIFETIME: Duration = Duration::from_secs(24 * 3600);

/// What to tell a user whose authorization is gone.
const LOGIN_AGAIN: &str = "run `gphotos-upload auth login` again";

/// Which grant an exchange carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ExchangeKind {
    /// `grant_type=refresh_token`: a new access token for a saved refresh token.
    Refresh,
    /// `grant_type=authorization_code`: the end of the consent flow.
    AuthorizationCode,
}

/// One exchange with the token endpoint: build its request with [`TokenExchange::request`] (or
/// [`TokenExchange::transmit`]), send it, and hand the reply to [`TokenExchange::handle_response`].
/// The same exchange may be sent again after a retryable failure.
#[derive(Clone)]
pub struct TokenExchange {
    kind: ExchangeKind,
    uri: Uri,
    form: String,
    /// The values in the form, scrubbed from any server text that reaches an error message.
    secrets: Vec<String>,
    /// The token file the reply completes: the old one for a refresh, the client's for a code.
    base: TokenFile,
}

/// Why a token file cannot be refreshed: checked before any request is built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefreshError {
    /// The file lacks `refresh_token`, `client_id` or `client_secret`.
    MissingField(&'static str),
    /// The file's `token_uri` breaks the origin policy (https, or http only on loopback).
    TokenUri(EndpointError),
}

impl fmt::Display for RefreshError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::MissingField(field) => write!(
                f,
                "the token file has no \"{field}\", so its access token cannot be refreshed; \
                 {LOGIN_AGAIN}"
            ),
            Self::TokenUri(error) => write!(
                f,
                "the token file's \"token_uri\" is refused: {error}; fix or remove the key"
            ),
        }
    }
}

impl std::error::Error for RefreshError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::TokenUri(error) => Some(error),
            Self::MissingField(_) => None,
        }
    }
}

/// A failed exchange, by whose fault and what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenEndpointError {
    /// `invalid_grant`: the refresh token or code is expired, revoked or used; the user must give
    /// consent again.
    ConsentRequired {
        /// The grant that was refused.
        kind: ExchangeKind,
        /// The server's `error_description`, with anything secret removed.
        description: Option<String>,
    },
    /// `invalid_client` or `unauthorized_client`: the OAuth client is wrong, deleted or not allowed
    /// this grant.
    ClientRejected {
        /// The server's `error` code.
        error: String,
        /// The server's `error_description`, with anything secret removed.
        description: Option<String>,
    },
    /// Any other OAuth error (`invalid_request`, `invalid_scope`, `redirect_uri_mismatch`, ...).
    Rejected {
        /// HTTP status of the reply.
        status: u16,
        /// The server's `error` code.
        error: String,
        /// The server's `error_description`, with anything secret removed.
        description: Option<String>,
    },
    /// 408, 429, 500, 502, 503 or 504 (or the OAuth errors `server_error` and
    /// `temporarily_unavailable`): try again later.
    Retryable {
        /// HTTP status of the reply.
        status: u16,
        /// How long the server asked to wait (`Retry-After`), if it said.
        retry_after: Option<Duration>,
    },
    /// Another non-success status without an OAuth error in the body.
    Status {
        /// HTTP status of the reply.
        status: u16,
    },
    /// A reply that does not follow RFC 6749 (not JSON, no `access_token`, bad `expires_in`).
    Malformed {
        /// HTTP status of the reply.
        status: u16,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The code exchange succeeded but brought no refresh token, so the login would last an hour.
    NoRefreshToken,
}

impl TokenEndpointError {
    /// Whether sending the same exchange again later may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Retryable { .. })
    }

    /// Whether the user must run the consent flow again.
    pub fn needs_consent(&self) -> bool {
        matches!(self, Self::ConsentRequired { .. } | Self::NoRefreshToken)
    }
}

impl fmt::Display for TokenEndpointError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let detail = |description: &Option<String>| {
            description
                .as_deref()
                .map(|d| format!(": {d}"))
                .unwrap_or_default()
        };
        match self {
            Self::ConsentRequired {
                kind: ExchangeKind::Refresh,
                description,
            } => write!(
                f,
                "Google no longer accepts the saved authorization (invalid_grant{}): it expired or \
                 was revoked (refresh tokens of an app in \"Testing\" publishing status expire \
                 after 7 days); {LOGIN_AGAIN}",
                detail(description)
            ),
            Self::ConsentRequired {
                kind: ExchangeKind::AuthorizationCode,
                description,
            } => write!(
                f,
                "the authorization code was refused (invalid_grant{}): it expired or was already \
                 used; {LOGIN_AGAIN}",
                detail(description)
            ),
            Self::ClientRejected { error, description } => write!(
                f,
                "the token endpoint refused the OAuth client ({error}{}); check that \
                 client_secret.json belongs to an existing OAuth client of type \"Desktop app\" \
                 and {LOGIN_AGAIN}",
                detail(description)
            ),
            Self::Rejected {
                status,
                error,
                description,
            } => write!(
                f,
                "the token endpoint refused the request with HTTP {status} ({error}{})",
                detail(description)
            ),
            Self::Retryable {
                status,
                retry_after,
            } => {
                write!(f, "the token endpoint is unavailable (HTTP {status})")?;
                if let Some(wait) = retry_after {
                    write!(f, "; it asks to retry after {} s", wait.as_secs())?;
                }
                Ok(())
            }
            Self::Status { status } => write!(
                f,
                "the token endpoint answered HTTP {status} without an OAuth error; check its URL"
            ),
            Self::Malformed { status, reason } => write!(
                f,
                "the token endpoint's reply (HTTP {status}) is malformed: {reason}"
            ),
            Self::NoRefreshToken => write!(
                f,
                "Google returned no refresh token; remove this app's access at \
                 https://myaccount.google.com/permissions and {LOGIN_AGAIN}"
            ),
        }
    }
}

impl std::error::Error for TokenEndpointError {}

impl TokenExchange {
    /// A refresh of `token`'s access token at its `token_uri` (Google's when absent), sending
    /// `grant_type=refresh_token`, `client_id`, `client_secret`, `refresh_token` and, when the file
    /// has one, `rapt` (as google-auth does). No `scope` is sent, so the grant keeps its scopes.
    ///
    /// # Errors
    /// [`RefreshError`] when the file lacks what a refresh needs or its `token_uri` is refused.
    pub fn refresh(token: &TokenFile) -> Result<Self, RefreshError> {
        let uri = token_uri::check(token.token_uri_or_default()).map_err(RefreshError::TokenUri)?;
        let refresh_token = token
            .refresh_token
            .as_ref()
            .map(RefreshToken::expose)
            .filter(|t| !t.is_empty())
            .ok_or(RefreshError::MissingField("refresh_token"))?;
        let client_id = token
            .client_id
            .as_deref()
            .filter(|t| !t.is_empty())
            .ok_or(RefreshError::MissingField("client_id"))?;
        let client_secret = token
            .client_secret
            .as_ref()
            .map(crate::ClientSecret::expose)
            .ok_or(RefreshError::MissingField("client_secret"))?;
        let mut pairs = vec![
            ("grant_type", "refresh_token"),
            ("client_id", client_id),
            ("client_secret", client_secret),
            ("refresh_token", refresh_token),
        ];
        let mut secrets = vec![client_secret.to_owned(), refresh_token.to_owned()];
        if let Some(old) = &token.token {
            secrets.push(old.expose().to_owned());
        }
        if let Some(rapt) = &token.rapt_token {
            pairs.push(("rapt", rapt.expose()));
            secrets.push(rapt.expose().to_owned());
        }
        Ok(Self {
            kind: ExchangeKind::Refresh,
            uri,
            form: encode_pairs(&pairs),
            secrets,
            base: token.clone(),
        })
    }

    /// The code exchange at the end of the consent flow.
    pub(crate) fn authorization_code(
        client: &OAuthClient,
        code: &AuthorizationCode,
        verifier: &CodeVerifier,
        redirect_uri: &str,
        scopes: &[Scope],
    ) -> Self {
        let client_secret = client.client_secret().expose();
        let form = encode_pairs(&[
            ("code", code.expose()),
            ("client_id", client.client_id()),
            ("client_secret", client_secret),
            ("redirect_uri", redirect_uri),
            ("grant_type", "authorization_code"),
            ("code_verifier", verifier.expose()),
        ]);
        // What google-auth-oauthlib's flow would save for the same consent.
        let base = TokenFile {
            token_uri: Some(client.token_uri().to_owned()),
            client_id: Some(client.client_id().to_owned()),
            client_secret: Some(client.client_secret().clone()),
            scopes: Some(scopes.iter().map(|s| s.url().to_owned()).collect()),
            universe_domain: Some("googleapis.com".to_owned()),
            account: Some(String::new()),
            ..TokenFile::default()
        };
        Self {
            kind: ExchangeKind::AuthorizationCode,
            uri: client.token_endpoint().clone(),
            form,
            secrets: vec![
                code.expose().to_owned(),
                client_secret.to_owned(),
                verifier.expose().to_owned(),
            ],
            base,
        }
    }

    /// Which grant this exchange carries.
    pub fn kind(&self) -> ExchangeKind {
        self.kind
    }

    /// The token endpoint.
    pub fn uri(&self) -> &Uri {
        &self.uri
    }

    /// The form POST: `Content-Type: application/x-www-form-urlencoded`, `Content-Length`, the
    /// url-encoded form as a [`Payload::Bytes`] body. It never carries the bearer token.
    pub fn request(&self) -> http::Request<Payload> {
        let payload = Payload::Bytes(self.form.clone().into_bytes());
        let length = HeaderValue::from(payload.len());
        let mut request = http::Request::new(payload);
        *request.method_mut() = Method::POST;
        *request.uri_mut() = self.uri.clone();
        let headers = request.headers_mut();
        headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("application/x-www-form-urlencoded"),
        );
        headers.insert(CONTENT_LENGTH, length);
        headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
        request
    }

    /// [`TokenExchange::request`] as a [`Transmit`] under `id`, marked to carry no bearer token.
    pub fn transmit(&self, id: RequestId) -> Transmit {
        Transmit {
            id,
            request: self.request(),
            bearer: false,
        }
    }

    /// Reads the token endpoint's reply. On success returns the token file to save: for a refresh,
    /// the old file with the new access token, the expiry `now + expires_in`, and the new refresh
    /// token if the reply has one (the old one otherwise); for a code exchange, a new file.
    ///
    /// # Errors
    /// [`TokenEndpointError`]: `ConsentRequired` for `invalid_grant`, `Retryable` for 408, 429,
    /// 500, 502, 503 and 504 (with `Retry-After` read by [`crate::retry::retry_after`]), and so on.
    pub fn handle_response<B: AsRef<[u8]>>(
        &self,
        now: SystemTime,
        response: &http::Response<B>,
    ) -> Result<TokenFile, TokenEndpointError> {
        let status = response.status();
        let code = status.as_u16();
        if is_retryable_status(status) {
            return Err(TokenEndpointError::Retryable {
                status: code,
                retry_after: crate::retry::retry_after(response.headers()),
            });
        }
        let body = response.body().as_ref();
        let json = serde_json::from_slice::<Value>(body).ok();
        let object = match json {
            Some(Value::Object(object)) => Some(object),
            _ => None,
        };
        if let Some(object) = &object
            && object.get("error").is_some_and(|error| !error.is_null())
        {
            return Err(self.oauth_error(code, object));
        }
        if !status.is_success() {
            return Err(TokenEndpointError::Status { status: code });
        }
        let malformed = |reason| TokenEndpointError::Malformed {
            status: code,
            reason,
        };
        let object = object.ok_or_else(|| malformed("the body is not a JSON object"))?;
        let access_token = match object.get("access_token") {
            Some(Value::String(token)) if !token.is_empty() => AccessToken::new(token.clone()),
            _ => return Err(malformed("it has no access_token")),
        };
        match object.get("token_type") {
            None | Some(Value::Null) => {}
            Some(Value::String(kind)) if kind.eq_ignore_ascii_case("bearer") => {}
            Some(_) => return Err(malformed("its token_type is not Bearer")),
        }
        let lifetime = lifetime(object.get("expires_in"))
            .ok_or_else(|| malformed("its expires_in is not a number of seconds"))?;
        let refresh_token = match object.get("refresh_token") {
            None | Some(Value::Null) => None,
            Some(Value::String(token)) if token.is_empty() => None,
            Some(Value::String(token)) => Some(RefreshToken::new(token.clone())),
            Some(_) => return Err(malformed("its refresh_token is not a string")),
        };
        let granted = match object.get("scope") {
            Some(Value::String(scope)) => Some(
                scope
                    .split_whitespace()
                    .map(str::to_owned)
                    .collect::<Vec<_>>(),
            ),
            _ => None,
        };

        let mut file = self.base.clone();
        file.token = Some(access_token);
        file.expiry = now.checked_add(lifetime);
        match (self.kind, refresh_token) {
            (_, Some(token)) => file.refresh_token = Some(token),
            (ExchangeKind::Refresh, None) => {}
            (ExchangeKind::AuthorizationCode, None) => {
                return Err(TokenEndpointError::NoRefreshToken);
            }
        }
        if self.kind == ExchangeKind::AuthorizationCode
            && let Some(granted) = granted.filter(|g| !g.is_empty())
        {
            file.scopes = Some(granted);
        }
        Ok(file)
    }

    fn oauth_error(&self, status: u16, object: &Map<String, Value>) -> TokenEndpointError {
        let text = |key| {
            object
                .get(key)
                .and_then(Value::as_str)
                .map(|t| self.scrub(t))
        };
        let error = text("error").unwrap_or_else(|| "unknown error".to_owned());
        let description = text("error_description").filter(|d| !d.is_empty());
        match error.as_str() {
            "invalid_grant" => TokenEndpointError::ConsentRequired {
                kind: self.kind,
                description,
            },
            "invalid_client" | "unauthorized_client" => {
                TokenEndpointError::ClientRejected { error, description }
            }
            "server_error" | "temporarily_unavailable" => TokenEndpointError::Retryable {
                status,
                retry_after: None,
            },
            _ => TokenEndpointError::Rejected {
                status,
                error,
                description,
            },
        }
    }

    /// Server text made fit for an error message: the exchange's secrets replaced, any other word
    /// long enough to be a token (32 characters or more) replaced too, control characters dropped,
    /// at most 300 characters.
    fn scrub(&self, text: &str) -> String {
        // Bounded first, so that a huge reply costs little; only the first 300 characters remain.
        let mut text: String = text
            .chars()
            .filter(|c| !c.is_control())
            .take(4096)
            .collect();
        for secret in self.secrets.iter().filter(|s| !s.is_empty()) {
            text = text.replace(secret.as_str(), "<redacted>");
        }
        let words: Vec<&str> = text
            .split(' ')
            .map(|word| {
                if word.chars().count() >= 32 {
                    "<redacted>"
                } else {
                    word
                }
            })
            .collect();
        words.join(" ").chars().take(300).collect()
    }
}

impl fmt::Debug for TokenExchange {
    // The form holds the client secret and the refresh token or code: only its size is shown.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenExchange")
            .field("kind", &self.kind)
            .field("uri", &self.uri)
            .field(
                "form",
                &format_args!("<{} bytes redacted>", self.form.len()),
            )
            .finish_non_exhaustive()
    }
}

/// The statuses DESIGN.md section 2 retries.
fn is_retryable_status(status: StatusCode) -> bool {
    matches!(status.as_u16(), 408 | 429 | 500 | 502 | 503 | 504)
}

/// `expires_in` as a lifetime: a non-negative number (or a string of digits, as some servers send),
/// capped at [`MAX_LIFETIME`]; [`DEFAULT_LIFETIME`] when absent.
fn lifetime(value: Option<&Value>) -> Option<Duration> {
    let seconds = match value {
        None | Some(Value::Null) => return Some(DEFAULT_LIFETIME),
        Some(Value::Number(n)) => match (n.as_u64(), n.as_f64()) {
            (Some(whole), _) => whole,
            (None, Some(real)) if real.is_finite() && real >= 0.0 => {
                if real >= MAX_LIFETIME.as_secs_f64() {
                    MAX_LIFETIME.as_secs()
                } else {
                    Duration::try_from_secs_f64(real).ok()?.as_secs()
                }
            }
            _ => return None,
        },
        Some(Value::String(text)) => text.trim().parse::<u64>().ok()?,
        Some(_) => return None,
    };
    Some(Duration::from_secs(seconds).min(MAX_LIFETIME))
}
