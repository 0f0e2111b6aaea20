//! The loop that drives a core machine: poll, perform, feed back. Every decision is the machine's.

use std::path::Path;
use std::thread;
use std::time::Instant;

use gphotos_upload::{AccessToken, Action, Payload, Transmit, Upload, UploadToken};
use http::Request;

use crate::transport::{Failure, ReadSeek, Transport};
use crate::{Credentials, Error, Observer};

/// Puts the current token on requests the origin policy allows, and remembers which token went out
/// so that a refusal names it to the provider.
pub(crate) struct Authorizer<'a> {
    credentials: &'a Credentials,
    last: Option<AccessToken>,
}

impl<'a> Authorizer<'a> {
    pub(crate) fn new(credentials: &'a Credentials) -> Self {
        Self {
            credentials,
            last: None,
        }
    }

    pub(crate) fn authorize(&mut self, transmit: Transmit) -> Result<Request<Payload>, Error> {
        if !transmit.bearer {
            // The token is not even fetched for a foreign origin, so a provider is never asked to
            // renew a token that would not be sent.
            return Ok(transmit.authorize(None));
        }
        let token = self.credentials.access_token()?;
        let request = transmit.authorize(token.as_ref());
        self.last = token;
        Ok(request)
    }

    pub(crate) fn refresh(&mut self) -> Result<(), Error> {
        let fresh = self.credentials.refresh(self.last.as_ref())?;
        self.last = Some(fresh);
        Ok(())
    }
}

/// Sleeps until `until` (not at all when it has passed).
pub(crate) fn sleep_until(until: Instant) {
    let wait = until.saturating_duration_since(Instant::now());
    if !wait.is_zero() {
        thread::sleep(wait);
    }
}

/// Runs `upload` to its end, streaming chunks from `source`.
pub(crate) fn upload(
    transport: &Transport,
    credentials: &Credentials,
    upload: &mut Upload,
    source: &mut dyn ReadSeek,
    path: Option<&Path>,
    observer: &mut dyn Observer,
) -> Result<UploadToken, Error> {
    let mut auth = Authorizer::new(credentials);
    loop {
        match upload.poll_action(Instant::now()) {
            Action::Send(transmit) => {
                let id = transmit.id;
                let request = auth.authorize(transmit)?;
                let outcome =
                    transport.perform(request, Some(&mut *source), &mut |n| observer.sent(n));
                match outcome {
                    Ok(response) => upload.handle_response(Instant::now(), id, &response)?,
                    // For an upload either way means "ask the server where it stands".
                    Err(Failure::Network(what) | Failure::Unsent(what)) => {
                        upload.handle_transport_error(Instant::now(), id, &what)?;
                    }
                    Err(failure @ (Failure::Source(_) | Failure::NoSource)) => {
                        // The machine learns that the request broke off (so a journal taken now
                        // resumes with a query), but the run stops: the file is the problem.
                        upload.handle_transport_error(Instant::now(), id, &"source unreadable")?;
                        observer.step(upload);
                        return Err(match failure {
                            Failure::Source(error) => {
                                Error::source_io(path.map(Path::to_path_buf), error)
                            }
                            _ => Error::misuse(failure.to_string()),
                        });
                    }
                }
                observer.step(upload);
            }
            Action::WaitUntil(until) => sleep_until(until),
            Action::RefreshToken => {
                auth.refresh()?;
                upload.token_refreshed();
                observer.step(upload);
            }
            Action::Done(token) => return Ok(token),
            Action::Failed(error) => return Err(Error::Core(error)),
            Action::AwaitReply => {
                return Err(Error::misuse(
                    "the upload has a request in flight elsewhere; drive each upload from one place",
                ));
            }
        }
    }
}
