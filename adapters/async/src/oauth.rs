//! Access tokens from a `token.json` (google-auth's format): refreshed at the file's `token_uri`
//! shortly before they expire and whenever the server refuses one, over the same [`Transport`].

use std::fmt;
use std::time::{Instant, SystemTime};

use futures_util::lock::Mutex;
use gphotos_upload::oauth::{TokenEndpointError, TokenExchange, TokenFile};
use gphotos_upload::retry::{Backoff, RetryPolicy};
use gphotos_upload::{AccessToken, Payload};

use crate::body::InMemory;
use crate::{AuthError, Authorizer, Transport};

/// Called with the token file after each refresh, to save it (atomically, mode 0600: it holds the
/// refresh token). An error stops the operation, so that a rotated refresh token is never lost
/// unnoticed.
pub type SaveTokenFile =
    Box<dyn Fn(&TokenFile) -> Result<(), Box<dyn std::error::Error + Send + Sync>> + Send + Sync>;

/// An [`Authorizer`] over a [`TokenFile`]: hands out its access token, refreshes it a little before
/// expiry ([`gphotos_upload::oauth::REFRESH_MARGIN`]) and when the server refuses it, and refreshes
/// once however many uploads were refused at the same time (they wait for the one refresh).
pub struct OAuthTokens<T> {
    transport: T,
    retry: RetryPolicy,
    file: Mutex<TokenFile>,
    save: Option<SaveTokenFile>,
}

impl<T: Transport> OAuthTokens<T> {
    /// Tokens from `file`, refreshed over `transport` with the default retry policy.
    pub fn new(transport: T, file: TokenFile) -> Self {
        Self {
            transport,
            retry: RetryPolicy::default(),
            file: Mutex::new(file),
            save: None,
        }
    }

    /// Sets how failing token endpoint requests are retried.
    #[must_use]
    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// Sets the function that saves the token file after each refresh.
    #[must_use]
    pub fn on_refresh(mut self, save: SaveTokenFile) -> Self {
        self.save = Some(save);
        self
    }

    /// The token file as it stands (after any refreshes).
    pub async fn token_file(&self) -> TokenFile {
        self.file.lock().await.clone()
    }

    async fn renew(&self, file: &mut TokenFile) -> Result<(), AuthError> {
        let exchange = TokenExchange::refresh(file).map_err(|e| AuthError::Refresh(Box::new(e)))?;
        *file = exchange_token(&self.transport, &exchange, &self.retry).await?;
        if let Some(save) = &self.save {
            save(file).map_err(|e| {
                AuthError::Refresh(
                    format!("the refreshed token file could not be saved: {e}").into(),
                )
            })?;
        }
        Ok(())
    }
}

impl<T: Transport> Authorizer for OAuthTokens<T> {
    async fn token(&self) -> Result<Option<AccessToken>, AuthError> {
        let mut file = self.file.lock().await;
        if file.needs_refresh(SystemTime::now()) {
            self.renew(&mut file).await?;
        }
        Ok(file.token.clone())
    }

    async fn refresh(&self, refused: Option<&AccessToken>) -> Result<(), AuthError> {
        let mut file = self.file.lock().await;
        // Another upload refreshed while this one waited for the lock.
        if file.token.as_ref() != refused {
            return Ok(());
        }
        self.renew(&mut file).await
    }
}

impl<T> fmt::Debug for OAuthTokens<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OAuthTokens").finish_non_exhaustive()
    }
}

/// Performs one token endpoint exchange (a refresh, or the code exchange at the end of the consent
/// flow) and returns the token file it yields. Retryable failures (408, 429, 5xx, transport errors)
/// are retried as `retry` allows, with the core's backoff; the exchange is idempotent.
///
/// # Errors
/// [`AuthError::Refresh`] holding the [`TokenEndpointError`] (for example `ConsentRequired`: sign
/// in again), or saying that retries ran out.
pub async fn exchange_token<T: Transport>(
    transport: &T,
    exchange: &TokenExchange,
    retry: &RetryPolicy,
) -> Result<TokenFile, AuthError> {
    let mut backoff = Backoff::new(0x70CE_5EED);
    loop {
        let (parts, payload) = exchange.request().into_parts();
        let body = InMemory::new(match payload {
            Payload::Bytes(bytes) => bytes,
            Payload::Empty | Payload::Range { .. } => Vec::new(),
        });
        let (what, throttled, asked) =
            match transport.send(http::Request::from_parts(parts, body)).await {
                Ok(response) => match exchange.handle_response(SystemTime::now(), &response) {
                    Ok(file) => return Ok(file),
                    Err(TokenEndpointError::Retryable {
                        status,
                        retry_after,
                    }) => (format!("HTTP {status}"), status == 429, retry_after),
                    Err(error) => return Err(AuthError::Refresh(Box::new(error))),
                },
                Err(error) => (format!("transport error: {error}"), false, None),
            };
        match backoff.fail(retry, Instant::now(), throttled, asked) {
            Some(at) => transport.sleep_until(at).await,
            None => {
                return Err(AuthError::Refresh(
                    format!(
                        "the token endpoint failed {} times in a row (last: {what}); rerun later",
                        backoff.attempts()
                    )
                    .into(),
                ));
            }
        }
    }
}
