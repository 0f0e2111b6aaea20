//! The loopback listener that receives the browser's redirect at the end of the consent.

use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

use gphotos_upload::oauth::{AuthorizationCode, Consent, RedirectError};

/// Largest request head read from the browser.
const MAX_HEAD: usize = 16 * 1024;
/// How long one browser connection may take to send its request.
const READ_TIMEOUT: Duration = Duration::from_secs(10);
/// How often the listener looks for a new connection while waiting.
const POLL: Duration = Duration::from_millis(50);

/// Why no code came back.
#[derive(Debug)]
pub enum WaitError {
    /// Nothing came back in time.
    TimedOut(Duration),
    /// The consent page reported an error, or the redirect was unusable.
    Redirect(RedirectError),
    /// The listener failed.
    Io(io::Error),
}

/// Waits until the browser brings back the authorization code (answering every request it makes
/// with the consent's page), or until `timeout` passes.
pub fn wait_for_code(
    listener: &TcpListener,
    consent: &Consent,
    timeout: Duration,
) -> Result<AuthorizationCode, WaitError> {
    listener.set_nonblocking(true).map_err(WaitError::Io)?;
    let deadline = Instant::now() + timeout;
    loop {
        match listener.accept() {
            Ok((stream, peer)) => {
                tracing::debug!(%peer, "connection on the redirect listener");
                match serve(stream, consent) {
                    Ok(Ok(code)) => return Ok(code),
                    Ok(Err(error)) if error.keep_listening() => {
                        tracing::debug!(%error, "not the redirect; still waiting");
                    }
                    Ok(Err(error)) => return Err(WaitError::Redirect(error)),
                    // A browser that hangs up or sends garbage does not end the login.
                    Err(error) => tracing::debug!(%error, "redirect connection failed"),
                }
            }
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => {
                if Instant::now() >= deadline {
                    return Err(WaitError::TimedOut(timeout));
                }
                std::thread::sleep(POLL);
            }
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(error) => return Err(WaitError::Io(error)),
        }
    }
}

/// Reads one request, answers it, and says what it was.
fn serve(
    mut stream: TcpStream,
    consent: &Consent,
) -> io::Result<Result<AuthorizationCode, RedirectError>> {
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(READ_TIMEOUT))?;
    stream.set_write_timeout(Some(READ_TIMEOUT))?;
    let target = read_target(&mut stream)?;
    let outcome = match target {
        Some(target) => consent.parse_redirect(&target),
        None => Err(RedirectError::NotTheRedirect),
    };
    let reply = Consent::browser_reply(&outcome);
    stream.write_all(&serialize(&reply))?;
    stream.flush()?;
    Ok(outcome)
}

/// The request target of a `GET`, or `None` for another method.
fn read_target(stream: &mut TcpStream) -> io::Result<Option<String>> {
    let mut head = Vec::with_capacity(1024);
    let mut buffer = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let read = stream.read(&mut buffer)?;
        if read == 0 {
            break;
        }
        head.extend_from_slice(&buffer[..read]);
        if head.len() > MAX_HEAD {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "request head too large",
            ));
        }
    }
    let line_end = head
        .windows(2)
        .position(|w| w == b"\r\n")
        .unwrap_or(head.len());
    let line = String::from_utf8_lossy(&head[..line_end]);
    let mut parts = line.split(' ');
    match (parts.next(), parts.next()) {
        (Some("GET"), Some(target)) => Ok(Some(target.to_owned())),
        _ => Ok(None),
    }
}

/// An HTTP/1.1 reply on the wire.
fn serialize(reply: &http::Response<Vec<u8>>) -> Vec<u8> {
    let status = reply.status();
    let mut out = format!(
        "HTTP/1.1 {} {}\r\n",
        status.as_u16(),
        status.canonical_reason().unwrap_or("")
    )
    .into_bytes();
    for (name, value) in reply.headers() {
        out.extend_from_slice(name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(reply.body());
    out
}
