//! Which access token goes on requests, and how a refused one is replaced.

use std::fmt;
use std::future::Future;
use std::sync::Arc;

use gphotos_upload::AccessToken;

/// Supplies the bearer token, and a fresh one when the server refuses it.
///
/// Many uploads share one authorizer; when several are refused at once, each calls
/// [`Authorizer::refresh`] with the token it had sent, and an implementation refreshes only once
/// (a token that differs from `refused` is already fresh).
pub trait Authorizer {
    /// The token to send on the next request; `None` sends requests without `Authorization`. An
    /// implementation that knows its token is about to expire may renew it here.
    ///
    /// # Errors
    /// [`AuthError`] when no token can be had; the driver stops before sending anything.
    fn token(&self) -> impl Future<Output = Result<Option<AccessToken>, AuthError>>;

    /// The server refused a request that carried `refused`: make [`Authorizer::token`] return a
    /// token that may work.
    ///
    /// # Errors
    /// [`AuthError`] when no fresh token can be had; the upload stops and can be resumed later.
    fn refresh(&self, refused: Option<&AccessToken>)
    -> impl Future<Output = Result<(), AuthError>>;
}

impl<A: Authorizer + ?Sized> Authorizer for &A {
    fn token(&self) -> impl Future<Output = Result<Option<AccessToken>, AuthError>> {
        (**self).token()
    }

    fn refresh(
        &self,
        refused: Option<&AccessToken>,
    ) -> impl Future<Output = Result<(), AuthError>> {
        (**self).refresh(refused)
    }
}

/// A shared authorizer (one token file for drivers spawned as separate tasks).
impl<T: Authorizer + ?Sized> Authorizer for Arc<T> {
    fn token(&self) -> impl Future<Output = Result<Option<AccessToken>, AuthError>> {
        (**self).token()
    }

    fn refresh(
        &self,
        refused: Option<&AccessToken>,
    ) -> impl Future<Output = Result<(), AuthError>> {
        (**self).refresh(refused)
    }
}

/// No token at all: requests go without `Authorization` (an emulator that checks none).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoToken;

impl Authorizer for NoToken {
    async fn token(&self) -> Result<Option<AccessToken>, AuthError> {
        Ok(None)
    }

    async fn refresh(&self, _refused: Option<&AccessToken>) -> Result<(), AuthError> {
        Err(AuthError::CannotRefresh)
    }
}

/// A fixed access token, for short jobs or tokens managed elsewhere. It cannot be refreshed: a
/// refusal ends the upload with [`AuthError::CannotRefresh`].
#[derive(Clone)]
pub struct StaticToken(pub AccessToken);

impl Authorizer for StaticToken {
    async fn token(&self) -> Result<Option<AccessToken>, AuthError> {
        Ok(Some(self.0.clone()))
    }

    async fn refresh(&self, refused: Option<&AccessToken>) -> Result<(), AuthError> {
        // A token not yet tried in this run (a machine restored while waiting for a token) deserves
        // one attempt.
        if refused == Some(&self.0) {
            Err(AuthError::CannotRefresh)
        } else {
            Ok(())
        }
    }
}

impl fmt::Debug for StaticToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("StaticToken(<redacted>)")
    }
}

/// Why no usable access token could be had.
#[derive(Debug)]
#[non_exhaustive]
pub enum AuthError {
    /// The token was refused and this authorizer has no way to get another.
    CannotRefresh,
    /// Refreshing failed; the message says why and what to do. It never holds a token.
    Refresh(Box<dyn std::error::Error + Send + Sync>),
}

impl fmt::Display for AuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::CannotRefresh => write!(
                f,
                "the server refused the access token and it cannot be refreshed here; \
                 supply a fresh token (or a refresh token) and rerun to resume"
            ),
            Self::Refresh(error) => write!(f, "could not refresh the access token: {error}"),
        }
    }
}

impl std::error::Error for AuthError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::CannotRefresh => None,
            Self::Refresh(error) => Some(error.as_ref()),
        }
    }
}
