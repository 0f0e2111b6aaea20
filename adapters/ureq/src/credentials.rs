//! Where access tokens come from.

use std::fmt;
use std::sync::Arc;

use gphotos_upload::AccessToken;

use crate::Error;

/// A source of OAuth access tokens, shared by every request and worker thread of a
/// [`crate::Client`].
///
/// Implement it to plug in your own token store; [`Credentials::bearer`] covers a fixed token.
pub trait TokenProvider: Send + Sync {
    /// The token to send on the next request, or `None` to send requests without one (an emulator
    /// that checks no tokens). A provider that knows its token is about to expire may renew it here.
    ///
    /// # Errors
    /// [`Error::Credentials`] when no token can be had.
    fn access_token(&self) -> Result<Option<AccessToken>, Error>;

    /// The server refused `refused` (HTTP 401): return a fresh token. Several threads may report
    /// the same refused token at once; a provider should renew once and hand the others the new
    /// token (compare `refused` with its current one).
    ///
    /// # Errors
    /// [`Error::Credentials`] (or [`Error::Core`] with [`gphotos_upload::Error::Unauthorized`]) when
    /// no fresh token can be had; the operation then stops, and a rerun resumes it.
    fn refresh(&self, refused: Option<&AccessToken>) -> Result<AccessToken, Error>;
}

/// A shared provider, so that the caller can keep a handle on it.
impl<T: TokenProvider + ?Sized> TokenProvider for Arc<T> {
    fn access_token(&self) -> Result<Option<AccessToken>, Error> {
        (**self).access_token()
    }

    fn refresh(&self, refused: Option<&AccessToken>) -> Result<AccessToken, Error> {
        (**self).refresh(refused)
    }
}

/// How a [`crate::Client`] authenticates.
#[derive(Clone)]
pub struct Credentials {
    provider: Arc<dyn TokenProvider>,
}

impl Credentials {
    /// A fixed bearer token, such as one from `GPHOTOS_ACCESS_TOKEN`. It cannot be refreshed: when
    /// the server refuses it, the operation stops with [`gphotos_upload::Error::Unauthorized`].
    pub fn bearer(token: impl Into<String>) -> Self {
        Self::from_provider(Fixed(Some(AccessToken::new(token))))
    }

    /// No token at all: requests go without `Authorization` (for an emulator that checks none).
    pub fn none() -> Self {
        Self::from_provider(Fixed(None))
    }

    /// Tokens from your own provider.
    pub fn from_provider(provider: impl TokenProvider + 'static) -> Self {
        Self {
            provider: Arc::new(provider),
        }
    }

    pub(crate) fn access_token(&self) -> Result<Option<AccessToken>, Error> {
        self.provider.access_token()
    }

    pub(crate) fn refresh(&self, refused: Option<&AccessToken>) -> Result<AccessToken, Error> {
        self.provider.refresh(refused)
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Credentials(<redacted>)")
    }
}

/// A token that never changes.
struct Fixed(Option<AccessToken>);

impl TokenProvider for Fixed {
    fn access_token(&self) -> Result<Option<AccessToken>, Error> {
        Ok(self.0.clone())
    }

    fn refresh(&self, _refused: Option<&AccessToken>) -> Result<AccessToken, Error> {
        Err(Error::Core(gphotos_upload::Error::Unauthorized))
    }
}
