//! `client_secret.json`: the OAuth client the user downloads from Google Cloud console.

use std::fmt;

use http::Uri;
use serde_json::{Map, Value};

use super::token_uri::{self, DEFAULT_AUTH_URI, DEFAULT_TOKEN_URI};
use crate::{ClientSecret, EndpointError};

/// What to tell a user who gave us the wrong file.
const HOW_TO_GET_ONE: &str = "create an OAuth client ID of type \"Desktop app\" in Google Cloud \
                              console (APIs & Services > Credentials) and download its JSON";

/// Which kind of OAuth client the file describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ClientKind {
    /// A "Desktop app" client (`installed`): any loopback port is accepted as redirect URI.
    Installed,
    /// A "Web application" client (`web`): Google accepts only the redirect URIs registered for it,
    /// so `http://127.0.0.1:<port>` must be among them for the loopback flow to work.
    Web,
}

/// A parsed `client_secret.json`: the OAuth client that asks for the user's consent and refreshes
/// tokens.
#[derive(Clone, PartialEq, Eq)]
pub struct OAuthClient {
    kind: ClientKind,
    client_id: String,
    client_secret: ClientSecret,
    auth_uri: String,
    token_uri: String,
    /// `token_uri`, checked against the origin policy.
    token_endpoint: Uri,
    redirect_uris: Vec<String>,
}

/// Why a `client_secret.json` cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientSecretError {
    /// The file is not JSON at all.
    NotJson {
        /// Line of the syntax error (1-based).
        line: usize,
        /// Column of the syntax error (1-based).
        column: usize,
    },
    /// The file is a service-account key; the Library API only works with a user's consent.
    ServiceAccountKey,
    /// The file is a token file (`token.json`, or gcloud's `authorized_user` file), not the client.
    TokenFile,
    /// The JSON holds no `installed` or `web` object.
    NoClient,
    /// A required field is missing or empty.
    MissingField(&'static str),
    /// A field has the wrong JSON type (for example a number where a string belongs).
    WrongType(&'static str),
    /// `auth_uri` or `token_uri` breaks the origin policy (https, or http only on loopback).
    Uri {
        /// `auth_uri` or `token_uri`.
        field: &'static str,
        /// What is wrong with it.
        error: EndpointError,
    },
}

impl fmt::Display for ClientSecretError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotJson { line, column } => write!(
                f,
                "the client secret file is not JSON (syntax error at line {line}, column \
                 {column}); {HOW_TO_GET_ONE}"
            ),
            Self::ServiceAccountKey => write!(
                f,
                "this is a service-account key, but the Photos Library API needs a user's \
                 consent; {HOW_TO_GET_ONE}"
            ),
            Self::TokenFile => write!(
                f,
                "this is a token file (token.json), not the OAuth client's client_secret.json; \
                 {HOW_TO_GET_ONE}"
            ),
            Self::NoClient => write!(
                f,
                "the client secret file has no \"installed\" or \"web\" object; {HOW_TO_GET_ONE}"
            ),
            Self::MissingField(field) => write!(
                f,
                "the client secret file has no \"{field}\"; download it again, or \
                 {HOW_TO_GET_ONE}"
            ),
            Self::WrongType(field) => write!(
                f,
                "the client secret file's \"{field}\" has the wrong type; download it again, or \
                 {HOW_TO_GET_ONE}"
            ),
            Self::Uri { field, error } => {
                write!(
                    f,
                    "the client secret file's \"{field}\" is unusable: {error}"
                )
            }
        }
    }
}

impl std::error::Error for ClientSecretError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Uri { error, .. } => Some(error),
            _ => None,
        }
    }
}

impl OAuthClient {
    /// Parses the bytes of a `client_secret.json` (a leading UTF-8 byte order mark is ignored).
    ///
    /// `client_id` and `client_secret` are required; `auth_uri` and `token_uri` default to Google's
    /// when absent and must be https (or http on loopback); `redirect_uris` is optional.
    ///
    /// # Errors
    /// [`ClientSecretError`] says what is wrong and how to get the right file.
    pub fn from_json(bytes: &[u8]) -> Result<Self, ClientSecretError> {
        let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
        let value: Value =
            serde_json::from_slice(bytes).map_err(|e| ClientSecretError::NotJson {
                line: e.line(),
                column: e.column(),
            })?;
        let Value::Object(top) = value else {
            return Err(ClientSecretError::NoClient);
        };
        if top.get("type").and_then(Value::as_str) == Some("service_account")
            || top.contains_key("private_key")
        {
            return Err(ClientSecretError::ServiceAccountKey);
        }
        let (kind, client) = match (top.get("installed"), top.get("web")) {
            (Some(client), _) => (ClientKind::Installed, client),
            (None, Some(client)) => (ClientKind::Web, client),
            (None, None) => {
                return Err(
                    if top.contains_key("refresh_token")
                        || top.get("type").and_then(Value::as_str) == Some("authorized_user")
                    {
                        ClientSecretError::TokenFile
                    } else {
                        ClientSecretError::NoClient
                    },
                );
            }
        };
        let Value::Object(client) = client else {
            return Err(ClientSecretError::NoClient);
        };
        let client_id = required(client, "client_id")?;
        let client_secret = ClientSecret::new(required(client, "client_secret")?);
        let auth_uri = optional(client, "auth_uri")?.unwrap_or_else(|| DEFAULT_AUTH_URI.into());
        let token_uri = optional(client, "token_uri")?.unwrap_or_else(|| DEFAULT_TOKEN_URI.into());
        let token_endpoint = checked_endpoints(&auth_uri, &token_uri)?;
        let redirect_uris = match client.get("redirect_uris") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(items)) => items
                .iter()
                .map(|item| item.as_str().map(str::to_owned))
                .collect::<Option<_>>()
                .ok_or(ClientSecretError::WrongType("redirect_uris"))?,
            Some(_) => return Err(ClientSecretError::WrongType("redirect_uris")),
        };
        Ok(Self {
            kind,
            client_id,
            client_secret,
            auth_uri,
            token_uri,
            token_endpoint,
            redirect_uris,
        })
    }

    /// An `installed` client with Google's endpoints, for tests and for callers that hold the
    /// identifiers elsewhere.
    pub fn installed(client_id: impl Into<String>, client_secret: ClientSecret) -> Self {
        Self {
            kind: ClientKind::Installed,
            client_id: client_id.into(),
            client_secret,
            auth_uri: DEFAULT_AUTH_URI.into(),
            token_uri: DEFAULT_TOKEN_URI.into(),
            token_endpoint: Uri::from_static(DEFAULT_TOKEN_URI),
            redirect_uris: vec!["http://localhost".into()],
        }
    }

    /// The same client with other endpoints (an emulator's, for example).
    ///
    /// # Errors
    /// [`ClientSecretError::Uri`] when either URL is not https (or http on loopback).
    pub fn with_endpoints(
        mut self,
        auth_uri: &str,
        token_uri: &str,
    ) -> Result<Self, ClientSecretError> {
        self.token_endpoint = checked_endpoints(auth_uri, token_uri)?;
        auth_uri.clone_into(&mut self.auth_uri);
        token_uri.clone_into(&mut self.token_uri);
        Ok(self)
    }

    /// `installed` or `web`.
    pub fn kind(&self) -> ClientKind {
        self.kind
    }

    /// The client ID (not a secret: it appears in the consent URL).
    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    /// The client secret.
    pub fn client_secret(&self) -> &ClientSecret {
        &self.client_secret
    }

    /// Where the browser goes for consent.
    pub fn auth_uri(&self) -> &str {
        &self.auth_uri
    }

    /// Where codes and refresh tokens are exchanged for access tokens.
    pub fn token_uri(&self) -> &str {
        &self.token_uri
    }

    /// `token_uri` as a checked URL.
    pub(crate) fn token_endpoint(&self) -> &Uri {
        &self.token_endpoint
    }

    /// The redirect URIs registered for the client.
    pub fn redirect_uris(&self) -> &[String] {
        &self.redirect_uris
    }
}

impl fmt::Debug for OAuthClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OAuthClient")
            .field("kind", &self.kind)
            .field("client_id", &self.client_id)
            .field("client_secret", &self.client_secret)
            .field("auth_uri", &self.auth_uri)
            .field("token_uri", &self.token_uri)
            .field("redirect_uris", &self.redirect_uris)
            .finish_non_exhaustive()
    }
}

/// Applies the origin policy to both endpoints and returns the token endpoint.
fn checked_endpoints(auth_uri: &str, token_uri: &str) -> Result<Uri, ClientSecretError> {
    token_uri::check(auth_uri).map_err(|error| ClientSecretError::Uri {
        field: "auth_uri",
        error,
    })?;
    token_uri::check(token_uri).map_err(|error| ClientSecretError::Uri {
        field: "token_uri",
        error,
    })
}

fn required(client: &Map<String, Value>, field: &'static str) -> Result<String, ClientSecretError> {
    optional(client, field)?
        .filter(|value| !value.is_empty())
        .ok_or(ClientSecretError::MissingField(field))
}

fn optional(
    client: &Map<String, Value>,
    field: &'static str,
) -> Result<Option<String>, ClientSecretError> {
    match client.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(value)) => Ok(Some(value.clone())),
        Some(_) => Err(ClientSecretError::WrongType(field)),
    }
}
