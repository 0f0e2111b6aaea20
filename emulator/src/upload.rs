//! `POST /v1/uploads`: starting a resumable session, and simple (raw) uploads whose body is the
//! whole file.

use crate::chunk::{StreamError, Streamed, stream};
use crate::faults::FaultAction;
use crate::oauth::check_bearer;
use crate::random::secret_hex;
use crate::response::Response;
use crate::server::{Exchange, Reply};
use crate::state::{MAX_RECORDS, Object, Session, SessionStatus};

/// `POST /v1/uploads` with `X-Goog-Upload-Command: start`.
pub(crate) fn start(ex: &mut Exchange<'_, '_>) -> Reply {
    let (shared, head) = (ex.shared, ex.head);
    if let Err(response) = check_bearer(shared, head) {
        return Reply::Respond(response);
    }
    if ex.content_length.unwrap_or(0) != 0 {
        return Reply::bad_request("A start request carries no body: send Content-Length: 0.");
    }
    let raw_size = match head.header("x-goog-upload-raw-size").map(str::parse::<u64>) {
        None => {
            return Reply::bad_request(
                "X-Goog-Upload-Raw-Size is required to start a resumable upload.",
            );
        }
        Some(Err(_)) => return Reply::bad_request("X-Goog-Upload-Raw-Size is not a number."),
        Some(Ok(0)) => {
            return Reply::bad_request(
                "X-Goog-Upload-Raw-Size must be positive: an empty file cannot be uploaded.",
            );
        }
        Some(Ok(size)) => size,
    };
    let Some(content_type) = head
        .header("x-goog-upload-content-type")
        .filter(|v| !v.is_empty())
    else {
        return Reply::bad_request("X-Goog-Upload-Content-Type is required.");
    };
    let file_name = match file_name(head.header("x-goog-upload-file-name")) {
        Ok(name) => name,
        Err(reply) => return reply,
    };
    let writer = match shared.store.open() {
        Ok(writer) => writer,
        Err(error) => {
            return Reply::Respond(Response::google_error(
                503,
                format!("storage unavailable: {error}"),
            ));
        }
    };
    let secret = secret_hex(24);
    let upload_id = format!("AEnB2U{}", secret_hex(16));
    {
        let mut state = shared.state();
        if state.sessions.len() >= MAX_RECORDS {
            writer.discard();
            return Reply::Respond(Response::google_error(503, "too many upload sessions"));
        }
        let seq = state.next_session;
        state.next_session += 1;
        state.sessions.insert(
            secret.clone(),
            Session {
                seq,
                upload_id: upload_id.clone(),
                raw_size,
                content_type: content_type.to_owned(),
                file_name,
                received: 0,
                bytes_seen: 0,
                status: SessionStatus::Active,
                writer: Some(writer),
                busy: false,
                token: None,
                object: None,
            },
        );
    }
    let url = format!(
        "{}/v1/uploads?upload_id={secret}&upload_protocol=resumable",
        shared.session_origin
    );
    Reply::Respond(
        Response::new(200)
            .header("X-Goog-Upload-URL", url)
            .header(
                "X-Goog-Upload-Chunk-Granularity",
                shared.config.granularity.to_string(),
            )
            .header("X-Goog-Upload-Status", "active")
            .header("X-GUploader-UploadID", upload_id),
    )
}

fn file_name(value: Option<&str>) -> Result<Option<String>, Reply> {
    match value {
        None | Some("") => Ok(None),
        Some(name) if name.len() > 255 => Err(Reply::bad_request(
            "X-Goog-Upload-File-Name is longer than 255 bytes.",
        )),
        Some(name) if name.bytes().all(|b| (0x20..0x7f).contains(&b)) => Ok(Some(name.to_owned())),
        Some(_) => Err(Reply::bad_request(
            "X-Goog-Upload-File-Name must be printable ASCII.",
        )),
    }
}

/// `POST /v1/uploads` with `X-Goog-Upload-Protocol: raw`: the body is the whole file.
pub(crate) fn raw(ex: &mut Exchange<'_, '_>) -> Reply {
    let shared = ex.shared;
    if let Err(response) = check_bearer(shared, ex.head) {
        return Reply::Respond(response);
    }
    let Some(content_type) = ex
        .head
        .header("x-goog-upload-content-type")
        .filter(|v| !v.is_empty())
    else {
        return Reply::bad_request("X-Goog-Upload-Content-Type is required.");
    };
    let content_type = content_type.to_owned();
    let file_name = match file_name(ex.head.header("x-goog-upload-file-name")) {
        Ok(name) => name,
        Err(reply) => return reply,
    };
    let Some(len) = ex.content_length else {
        return Reply::Respond(Response::google_error(
            411,
            "A raw upload needs Content-Length.",
        ));
    };
    if len == 0 {
        return Reply::bad_request("Payload must not be empty");
    }
    if shared.state().objects.len() >= MAX_RECORDS {
        return Reply::Respond(Response::google_error(503, "too many objects"));
    }
    let mut writer = match shared.store.open() {
        Ok(writer) => writer,
        Err(error) => {
            return Reply::Respond(Response::google_error(
                503,
                format!("storage unavailable: {error}"),
            ));
        }
    };
    let drop_after = match &ex.fault {
        Some(FaultAction::DropAfter { bytes }) => Some(*bytes),
        _ => None,
    };
    let outcome = stream(&mut writer, ex, u64::MAX, len, drop_after, &mut |_| {});
    if !matches!(outcome, Ok(Streamed::Complete)) {
        writer.discard();
        return match outcome {
            Err(StreamError::Storage(error)) => Reply::Respond(Response::google_error(
                500,
                format!("storage failed: {error}"),
            )),
            _ => Reply::Hangup,
        };
    }
    let finished = match writer.finish() {
        Ok(finished) => finished,
        Err(error) => {
            return Reply::Respond(Response::google_error(
                500,
                format!("storage failed: {error}"),
            ));
        }
    };
    let token = shared.state().add_object(Object {
        sha256: finished.sha256,
        size: finished.size,
        content_type,
        file_name,
        path: finished.path,
    });
    Reply::Respond(Response::text(200, token))
}
