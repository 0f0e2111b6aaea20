//! OAuth for the Photos Library API, sans-IO: the scopes, `client_secret.json`, `token.json`
//! (interchangeable with Python google-auth's), the token refresh, and the installed-app consent
//! flow with PKCE.
//!
//! Nothing here does I/O: file contents come in as bytes and go out as bytes (the adapter writes
//! `token.json` atomically with mode 0600), the time comes in as `now`, randomness as byte arrays,
//! and requests go out as [`http::Request`] values whose replies come back as [`http::Response`].
//! Token endpoint requests never carry the bearer token, and every OAuth endpoint must be https
//! (plain http only on loopback, for an emulator).
//!
//! A refresh:
//!
//! ```
//! use std::time::{Duration, SystemTime};
//! use gphotos_upload::oauth::{TokenExchange, TokenFile};
//!
//! let saved = br#"{"token": "ya29.old", "refresh_token": "1//r", "client_id": "id",
//!     "client_secret": "s", "expiry": "2025-01-02T03:04:05Z"}"#;
//! let file = TokenFile::from_json(saved)?;
//! let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_735_787_000);
//! assert!(file.needs_refresh(now));
//!
//! let exchange = TokenExchange::refresh(&file)?;
//! let request = exchange.request(); // POST https://oauth2.googleapis.com/token
//! assert_eq!(request.uri(), "https://oauth2.googleapis.com/token");
//! let reply = http::Response::builder()
//!     .status(200)
//!     .body(r#"{"access_token": "ya29.new", "expires_in": 3599, "token_type": "Bearer"}"#)?;
//! let renewed = exchange.handle_response(now, &reply)?;
//! assert!(!renewed.needs_refresh(now));
//! let bytes_to_save = renewed.to_json();
//! # let _ = bytes_to_save;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! A consent (the adapter binds the loopback listener, opens the browser and draws the random bytes
//! from the operating system):
//!
//! ```
//! use gphotos_upload::oauth::{Consent, OAuthClient, Scope};
//!
//! let client = OAuthClient::from_json(br#"{"installed": {"client_id": "id.apps.googleusercontent.com",
//!     "client_secret": "GOCSPX-x", "auth_uri": "https://accounts.google.com/o/oauth2/auth",
//!     "token_uri": "https://oauth2.googleapis.com/token", "redirect_uris": ["http://localhost"]}}"#)?;
//! let (state_random, verifier_random) = ([7u8; 32], [9u8; 32]); // from a CSPRNG in real use
//! let consent = Consent::new(&client, 53682, &[Scope::AppendOnly], state_random, verifier_random)?;
//! let url = consent.authorization_url(); // open this in the browser
//! # let state = url.split("state=").nth(1).unwrap().split('&').next().unwrap();
//!
//! // The browser comes back to the listener with `GET /?code=...&state=...`:
//! # let target = format!("/?code=4%2F0Ab&state={state}");
//! let outcome = consent.parse_redirect(&target);
//! let page = Consent::browser_reply(&outcome); // send this to the browser
//! # assert_eq!(page.status(), 200);
//! let exchange = consent.exchange(&outcome?);
//! let request = exchange.request(); // POST to token_uri; its reply goes to handle_response
//! # assert_eq!(request.method(), "POST");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod client_secret;
mod consent;
mod exchange;
mod form;
mod scope;
mod secrets;
mod timestamp;
mod token_file;
mod token_uri;

pub use client_secret::{ClientKind, ClientSecretError, OAuthClient};
pub use consent::{Consent, ConsentError, RedirectError};
pub use exchange::{ExchangeKind, RefreshError, TokenEndpointError, TokenExchange};
pub use scope::{Scope, ScopeError};
pub use secrets::{AuthorizationCode, CodeVerifier, RaptToken};
pub use timestamp::{format_expiry, parse_expiry};
pub use token_file::{REFRESH_MARGIN, TokenFile, TokenFileError};
pub use token_uri::{DEFAULT_AUTH_URI, DEFAULT_TOKEN_URI};
