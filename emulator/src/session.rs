//! The commands on a session URL: upload, `upload, finalize`, finalize, query and cancel, validated
//! as strictly as Google's server does. The session URL is a capability: no bearer token needed.

use std::time::{Duration, Instant};

use crate::chunk::{StreamError, Streamed, stream};
use crate::faults::FaultAction;
use crate::http::Head;
use crate::response::Response;
use crate::server::{Exchange, Reply};
use crate::state::{Object, Session, SessionStatus, Shared, State};
use crate::storage::ObjectWriter;

/// What a session URL request asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Command {
    /// `upload`: a non-final chunk.
    Upload,
    /// `upload, finalize`: the last chunk.
    UploadFinalize,
    /// `finalize` with no data.
    Finalize,
    Query,
    Cancel,
}

impl Command {
    /// Parses `X-Goog-Upload-Command`: comma-separated, any order, spacing and case.
    pub(crate) fn parse(value: &str) -> Option<Self> {
        let mut upload = false;
        let mut finalize = false;
        let mut single = None;
        let mut count = 0;
        for word in value.split(',').map(str::trim) {
            count += 1;
            match word.to_ascii_lowercase().as_str() {
                "upload" => upload = true,
                "finalize" => finalize = true,
                "query" => single = Some(Self::Query),
                "cancel" => single = Some(Self::Cancel),
                _ => return None,
            }
        }
        match (upload, finalize, single, count) {
            (true, false, None, 1) => Some(Self::Upload),
            (true, true, None, 2) => Some(Self::UploadFinalize),
            (false, true, None, 1) => Some(Self::Finalize),
            (false, false, Some(command), 1) => Some(command),
            _ => None,
        }
    }
}

/// How long a request waits for another request on the same session to finish: long enough for
/// the thread serving an interrupted chunk to notice that its client went away and commit.
const BUSY_WAIT: Duration = Duration::from_secs(1);

fn wait_until_idle(shared: &Shared, id: &str) {
    let deadline = Instant::now() + BUSY_WAIT;
    while Instant::now() < deadline {
        if !shared.state().sessions.get(id).is_some_and(|s| s.busy) {
            return;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Counts body bytes that reached a session URL, whatever became of them (stored, rejected,
/// discarded by a fault), so introspection shows re-sent bytes.
pub(crate) fn note_bytes_seen(shared: &Shared, head: &Head, bytes: u64) {
    if bytes == 0 {
        return;
    }
    if let Some(id) = head.query_param("upload_id")
        && let Some(session) = shared.state().sessions.get_mut(&id)
    {
        session.bytes_seen += bytes;
    }
}

/// The session a session URL names, for faults that act on it.
pub(crate) fn expire_session(ex: &Exchange<'_, '_>) {
    if let Some(id) = ex.head.query_param("upload_id") {
        let mut state = ex.shared.state();
        if let Some(session) = state.sessions.get_mut(&id) {
            session.status = SessionStatus::Expired;
            if let Some(writer) = session.writer.take() {
                writer.discard();
            }
        }
    }
}

fn session_reply(status: u16, session_status: SessionStatus) -> Response {
    Response::new(status).header("X-Goog-Upload-Status", session_status.header_value())
}

fn session_error(status: u16, session_status: SessionStatus, message: &str) -> Reply {
    let mut response = Response::google_error(status, message);
    response.headers.push((
        "X-Goog-Upload-Status".into(),
        session_status.header_value().into(),
    ));
    Reply::Respond(response)
}

/// A command on a session URL.
pub(crate) fn session_command(ex: &mut Exchange<'_, '_>, command: Command) -> Reply {
    let Some(id) = ex.head.query_param("upload_id") else {
        return Reply::Respond(Response::google_error(404, "No such upload session."));
    };
    match command {
        Command::Query => query(ex, &id),
        Command::Cancel => cancel(ex, &id),
        Command::Upload | Command::UploadFinalize | Command::Finalize => data(ex, &id, command),
    }
}

fn live_session<'s>(state: &'s mut State, id: &str) -> Result<&'s mut Session, Reply> {
    match state.sessions.get_mut(id) {
        Some(session) if session.status != SessionStatus::Expired => Ok(session),
        _ => Err(Reply::Respond(Response::google_error(
            404,
            "No such upload session: it never existed or it expired.",
        ))),
    }
}

fn query(ex: &mut Exchange<'_, '_>, id: &str) -> Reply {
    if ex.content_length.unwrap_or(0) != 0 {
        return Reply::bad_request("A query carries no body.");
    }
    let mut state = ex.shared.state();
    let (status, received, token) = match live_session(&mut state, id) {
        Ok(session) => (session.status, session.received, session.token.clone()),
        Err(reply) => return reply,
    };
    let unused = token.filter(|t| state.upload_tokens.get(t).is_some_and(|t| !t.used));
    let mut response =
        session_reply(200, status).header("X-Goog-Upload-Size-Received", received.to_string());
    if let Some(token) = unused {
        response = response.header("Content-Type", "text/plain; charset=utf-8");
        response.body = token.into_bytes();
    }
    Reply::Respond(response)
}

fn cancel(ex: &mut Exchange<'_, '_>, id: &str) -> Reply {
    if ex.content_length.unwrap_or(0) != 0 {
        return Reply::bad_request("A cancel carries no body.");
    }
    wait_until_idle(ex.shared, id);
    let mut state = ex.shared.state();
    let session = match live_session(&mut state, id) {
        Ok(session) => session,
        Err(reply) => return reply,
    };
    match session.status {
        SessionStatus::Final => session_error(
            400,
            SessionStatus::Final,
            "The upload was already finalized; it cannot be cancelled.",
        ),
        _ if session.busy => session_error(
            409,
            session.status,
            "Another request is writing to this session.",
        ),
        _ => {
            session.status = SessionStatus::Cancelled;
            if let Some(writer) = session.writer.take() {
                writer.discard();
            }
            Reply::Respond(session_reply(200, SessionStatus::Cancelled))
        }
    }
}

/// upload / upload+finalize / finalize: validate and claim the session under the lock, stream
/// without it, commit under it again.
fn data(ex: &mut Exchange<'_, '_>, id: &str, command: Command) -> Reply {
    let granularity = ex.shared.config.granularity;
    let Some(len) = ex
        .content_length
        .or((command == Command::Finalize).then_some(0))
    else {
        return Reply::Respond(Response::google_error(
            411,
            "An upload request needs Content-Length.",
        ));
    };
    let mut writer = match claim(ex, id, command, len) {
        Ok(writer) => writer,
        Err(reply) => return reply,
    };
    let (keep, limit) = match &ex.fault {
        Some(FaultAction::LoseTail { bytes }) if command == Command::Upload => {
            let lost = bytes
                .div_ceil(granularity)
                .saturating_mul(granularity)
                .min(len);
            (len - lost, None)
        }
        Some(FaultAction::DropAfter { bytes }) => (len, Some(*bytes)),
        _ => (len, None),
    };
    let shared = ex.shared;
    let outcome = stream(&mut writer, ex, keep, len, limit, &mut |persisted| {
        if let Some(session) = shared.state().sessions.get_mut(id) {
            session.received = persisted;
        }
    });
    commit(ex, id, command, writer, outcome)
}

/// Checks a data command against the session and takes its writer (marking it busy).
fn claim(
    ex: &Exchange<'_, '_>,
    id: &str,
    command: Command,
    len: u64,
) -> Result<ObjectWriter, Reply> {
    wait_until_idle(ex.shared, id);
    let mut state = ex.shared.state();
    let session = live_session(&mut state, id)?;
    match session.status {
        SessionStatus::Final => {
            return Err(session_error(
                400,
                SessionStatus::Final,
                "The upload session was already finalized: only query is allowed now.",
            ));
        }
        SessionStatus::Cancelled => {
            return Err(session_error(
                410,
                SessionStatus::Cancelled,
                "The upload session was cancelled.",
            ));
        }
        SessionStatus::Active | SessionStatus::Expired => {}
    }
    let status = session.status;
    if session.busy {
        return Err(session_error(
            409,
            status,
            "Another request is still writing to this session.",
        ));
    }
    let offset = match ex
        .head
        .header("x-goog-upload-offset")
        .map(str::parse::<u64>)
    {
        // `finalize` alone may leave the offset out: it adds no bytes.
        None if command == Command::Finalize => session.received,
        None => {
            return Err(session_error(
                400,
                status,
                "X-Goog-Upload-Offset is required.",
            ));
        }
        Some(Err(_)) => {
            return Err(session_error(
                400,
                status,
                "X-Goog-Upload-Offset is not a number.",
            ));
        }
        Some(Ok(offset)) => offset,
    };
    let granularity = ex.shared.config.granularity;
    if let Err(message) = validate(
        command,
        offset,
        len,
        session.received,
        session.raw_size,
        granularity,
    ) {
        return Err(session_error(400, status, &message));
    }
    let Some(writer) = session.writer.take() else {
        return Err(session_error(
            409,
            status,
            "The session has no writable object.",
        ));
    };
    session.busy = true;
    Ok(writer)
}

/// Puts the writer back after streaming, and finalizes when the command says so.
fn commit(
    ex: &Exchange<'_, '_>,
    id: &str,
    command: Command,
    writer: ObjectWriter,
    outcome: Result<Streamed, StreamError>,
) -> Reply {
    let mut guard = ex.shared.state();
    let state = &mut *guard;
    let Some(session) = state.sessions.get_mut(id) else {
        writer.discard();
        return Reply::Hangup;
    };
    session.busy = false;
    if session.status != SessionStatus::Active {
        // Cancelled or expired while the bytes streamed: they go nowhere.
        writer.discard();
        return Reply::Respond(Response::google_error(
            404,
            "The upload session ended while data arrived.",
        ));
    }
    session.received = writer.len();
    match outcome {
        Ok(Streamed::Complete) => {}
        Ok(Streamed::Dropped) | Err(StreamError::Client) => {
            session.writer = Some(writer);
            return Reply::Hangup;
        }
        Err(StreamError::Storage(error)) => {
            session.writer = Some(writer);
            return Reply::Respond(Response::google_error(
                500,
                format!("storage failed: {error}"),
            ));
        }
    }
    if command == Command::Upload {
        session.writer = Some(writer);
        return Reply::Respond(session_reply(200, SessionStatus::Active));
    }
    let finished = match writer.finish() {
        Ok(finished) => finished,
        Err(error) => {
            session.status = SessionStatus::Cancelled;
            return Reply::Respond(Response::google_error(
                500,
                format!("storage failed: {error}"),
            ));
        }
    };
    debug_assert_eq!(finished.size, session.raw_size);
    session.status = SessionStatus::Final;
    let object = Object {
        sha256: finished.sha256,
        size: finished.size,
        content_type: session.content_type.clone(),
        file_name: session.file_name.clone(),
        path: finished.path,
    };
    let token = state.add_object(object);
    let object_index = state.objects.len() - 1;
    if let Some(session) = state.sessions.get_mut(id) {
        session.token = Some(token.clone());
        session.object = Some(object_index);
    }
    let mut response = session_reply(200, SessionStatus::Final)
        .header("Content-Type", "text/plain; charset=utf-8");
    response.body = token.into_bytes();
    Reply::Respond(response)
}

/// The rules a real server enforces on a data-carrying command, before reading any byte.
fn validate(
    command: Command,
    offset: u64,
    len: u64,
    received: u64,
    raw_size: u64,
    granularity: u64,
) -> Result<(), String> {
    if offset != received {
        return Err(format!(
            "Invalid X-Goog-Upload-Offset {offset}: the server has {received} bytes; query the session and resume there."
        ));
    }
    let end = offset.saturating_add(len);
    match command {
        Command::Upload => {
            if len == 0 {
                return Err("Payload must not be empty".into());
            }
            if !len.is_multiple_of(granularity) {
                return Err(format!(
                    "A non-final chunk must be a multiple of {granularity} bytes (X-Goog-Upload-Chunk-Granularity); got {len}."
                ));
            }
            if end > raw_size {
                return Err(format!(
                    "The chunk ends at {end}, beyond the declared X-Goog-Upload-Raw-Size {raw_size}."
                ));
            }
        }
        Command::UploadFinalize => {
            if len == 0 {
                return Err("Payload must not be empty".into());
            }
            if end != raw_size {
                return Err(format!(
                    "The upload would finalize at {end} bytes but X-Goog-Upload-Raw-Size declared {raw_size}."
                ));
            }
        }
        Command::Finalize => {
            if len != 0 {
                return Err(
                    "finalize alone carries no data; send the last bytes with `upload, finalize`."
                        .into(),
                );
            }
            if received != raw_size {
                return Err(format!(
                    "The upload would finalize at {received} bytes but X-Goog-Upload-Raw-Size declared {raw_size}."
                ));
            }
        }
        Command::Query | Command::Cancel => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_header_forms() {
        assert_eq!(Command::parse("upload"), Some(Command::Upload));
        assert_eq!(
            Command::parse("upload, finalize"),
            Some(Command::UploadFinalize)
        );
        assert_eq!(
            Command::parse("Finalize ,UPLOAD"),
            Some(Command::UploadFinalize)
        );
        assert_eq!(
            Command::parse("upload,finalize"),
            Some(Command::UploadFinalize)
        );
        assert_eq!(Command::parse("finalize"), Some(Command::Finalize));
        assert_eq!(Command::parse(" query "), Some(Command::Query));
        assert_eq!(Command::parse("cancel"), Some(Command::Cancel));
        for bad in [
            "",
            "start",
            "upload, upload",
            "query, cancel",
            "upload, query",
            "bogus",
        ] {
            assert_eq!(Command::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn validation_rules() {
        assert!(validate(Command::Upload, 0, 8, 0, 20, 4).is_ok());
        assert!(validate(Command::Upload, 4, 8, 0, 20, 4).is_err());
        assert!(validate(Command::Upload, 0, 6, 0, 20, 4).is_err());
        assert!(validate(Command::Upload, 0, 0, 0, 20, 4).is_err());
        assert!(validate(Command::Upload, 16, 8, 16, 20, 4).is_err());
        assert!(validate(Command::UploadFinalize, 16, 4, 16, 20, 4).is_ok());
        assert!(validate(Command::UploadFinalize, 16, 3, 16, 20, 4).is_err());
        assert!(validate(Command::UploadFinalize, 20, 0, 20, 20, 4).is_err());
        assert!(validate(Command::Finalize, 20, 0, 20, 20, 4).is_ok());
        assert!(validate(Command::Finalize, 16, 0, 16, 20, 4).is_err());
    }
}
