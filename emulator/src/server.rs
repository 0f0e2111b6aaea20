//! Connections: the accept loop, one thread per connection, keep-alive, request framing, faults
//! applied around the handlers, and the request log.

use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::control;
use crate::faults::{FaultAction, RequestKind};
use crate::http::{BUF_SIZE, Body, Conn, Head, HeadError};
use crate::library;
use crate::oauth;
use crate::response::Response;
use crate::routes::{Route, route};
use crate::session;
use crate::state::{RequestRecord, Shared};
use crate::upload;

/// Largest JSON or form body accepted (batchCreate with 50 items is a few KiB).
const MAX_SMALL_BODY: u64 = 1024 * 1024;

/// One request being handled.
pub(crate) struct Exchange<'a, 'c> {
    pub(crate) shared: &'a Shared,
    pub(crate) head: &'a Head,
    pub(crate) body: Body<'c>,
    /// `Content-Length`, if the request had one.
    pub(crate) content_length: Option<u64>,
    /// A fault the handler itself must play out (dropped or lost bytes of an upload).
    pub(crate) fault: Option<FaultAction>,
}

/// What a handler wants done.
pub(crate) enum Reply {
    Respond(Response),
    /// Close the connection without an answer.
    Hangup,
}

impl Reply {
    /// 400 `INVALID_ARGUMENT` with a message for the client's developer.
    pub(crate) fn bad_request(message: impl Into<String>) -> Self {
        Self::Respond(Response::google_error(400, message))
    }
}

pub(crate) fn accept_loop(shared: &Arc<Shared>, listener: &TcpListener) {
    static NEXT_ID: AtomicU64 = AtomicU64::new(0);
    loop {
        let stream = match listener.accept() {
            Ok((stream, _)) => stream,
            Err(_) if shared.stopping() => return,
            Err(_) => {
                // Out of descriptors and the like: back off instead of spinning.
                std::thread::sleep(Duration::from_millis(10));
                continue;
            }
        };
        if shared.stopping() {
            return;
        }
        if shared.connections().len() >= shared.config.max_connections {
            refuse(stream);
            continue;
        }
        let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
        if let Ok(clone) = stream.try_clone() {
            shared.connections().insert(id, clone);
        }
        let worker = Arc::clone(shared);
        let spawned = std::thread::Builder::new()
            .name("gphotos-emulator-conn".into())
            .spawn(move || {
                serve(&worker, stream);
                worker.connections().remove(&id);
            });
        if spawned.is_err() {
            shared.connections().remove(&id);
        }
    }
}

/// Answers a connection over the cap. Here on the accept thread there is neither a simulated round
/// trip nor a lingering close: either would hold up every client waiting to be accepted.
fn refuse(mut stream: TcpStream) {
    let response = Response::google_error(503, "too many connections").closing();
    let _ = stream.set_write_timeout(Some(Duration::from_secs(1)));
    let _ = stream.write_all(&response.serialize(true));
}

fn serve(shared: &Shared, stream: TcpStream) {
    let timeout = Some(shared.config.io_timeout);
    if stream.set_read_timeout(timeout).is_err() || stream.set_write_timeout(timeout).is_err() {
        return;
    }
    let _ = stream.set_nodelay(true);
    let mut conn = Conn::new(stream);
    while !shared.stopping() {
        let head = match conn.read_head() {
            Ok(head) => head,
            Err(HeadError::Closed) => return,
            Err(HeadError::TooLarge) => {
                let response = Response::google_error(431, "The request head is too large.");
                return reject_unparsed(shared, &mut conn, &response);
            }
            Err(HeadError::Malformed(reason)) => {
                let response =
                    Response::google_error(400, format!("Malformed HTTP request: {reason}."));
                return reject_unparsed(shared, &mut conn, &response);
            }
        };
        if !exchange(shared, &mut conn, &head) {
            return;
        }
    }
}

fn reject_unparsed(shared: &Shared, conn: &mut Conn, response: &Response) {
    shared.state().record(RequestRecord {
        method: "-".into(),
        path: "-".into(),
        kind: RequestKind::Other,
        status: Some(response.status),
        authorization: false,
        body_len: 0,
    });
    send(shared, conn, response, true, shared.config.latency);
}

/// The body length from the framing headers.
fn framing(head: &Head) -> Result<Option<u64>, Response> {
    if head.header("transfer-encoding").is_some() {
        return Err(Response::google_error(
            411,
            "Transfer-Encoding is not accepted: send the body with Content-Length.",
        ));
    }
    let mut length = None;
    for value in head.header_values("content-length") {
        let parsed: u64 = value
            .parse()
            .map_err(|_| Response::google_error(400, "Content-Length is not a number."))?;
        if length.is_some_and(|l| l != parsed) {
            return Err(Response::google_error(
                400,
                "Conflicting Content-Length headers.",
            ));
        }
        length = Some(parsed);
    }
    Ok(length)
}

/// Handles one request; false when the connection must close.
fn exchange(shared: &Shared, conn: &mut Conn, head: &Head) -> bool {
    let route = route(head);
    let kind = route.kind();
    let mut record = RequestRecord {
        method: head.method.clone(),
        path: head.path.clone(),
        kind,
        status: None,
        authorization: head.header("authorization").is_some(),
        body_len: 0,
    };
    let content_length = match framing(head) {
        Ok(length) => length,
        Err(response) => {
            record.status = Some(response.status);
            if kind != RequestKind::Control {
                shared.state().record(record);
            }
            send(shared, conn, &response, true, round_trip(shared, kind));
            return false;
        }
    };
    let len = content_length.unwrap_or(0);
    let expect_continue = head
        .header("expect")
        .is_some_and(|v| v.eq_ignore_ascii_case("100-continue"));
    let mut ex = Exchange {
        shared,
        head,
        body: conn.body(len, expect_continue),
        content_length,
        fault: None,
    };
    let fault = shared.faults().pick(kind, len);
    let reply = with_fault(&mut ex, &route, fault);
    let mut close = head.wants_close();
    let response = match reply {
        Reply::Respond(response) => {
            close |= response.close;
            Some(response)
        }
        Reply::Hangup => {
            close = true;
            None
        }
    };
    if !close && ex.body.remaining() > 0 {
        // Unread body: skip it so the next request parses, unless the client still waits for a
        // 100 Continue (then it may never send it) or the body does not arrive.
        close = ex.body.untouched_by_expectation() || ex.body.discard().is_err();
    }
    record.body_len = ex.body.received();
    drop(ex);
    record.status = response.as_ref().map(|r| r.status);
    if matches!(route, Route::Session(_)) {
        session::note_bytes_seen(shared, head, record.body_len);
    }
    // Recorded before the reply goes out, so a client that has its answer sees it in the log.
    if kind != RequestKind::Control {
        shared.state().record(record);
    }
    match &response {
        Some(response) => send(shared, conn, response, close, round_trip(shared, kind)),
        None => false,
    }
}

/// The simulated round trip before a reply: none for the control endpoints, which are the
/// emulator's own and not Google's.
fn round_trip(shared: &Shared, kind: RequestKind) -> Duration {
    if kind == RequestKind::Control {
        Duration::ZERO
    } else {
        shared.config.latency
    }
}

/// Writes a final reply after `delay`; true when the connection carries on.
fn send(
    shared: &Shared,
    conn: &mut Conn,
    response: &Response,
    close: bool,
    delay: Duration,
) -> bool {
    stall(shared, delay);
    let written = conn.write_all(&response.serialize(close)).is_ok();
    if close && written {
        // The request may not have been read in full: see `Conn::linger`.
        conn.linger();
    }
    written && !close
}

fn with_fault(ex: &mut Exchange<'_, '_>, route: &Route, fault: Option<FaultAction>) -> Reply {
    let Some(fault) = fault else {
        return dispatch(ex, route);
    };
    match fault {
        FaultAction::Status {
            status,
            retry_after,
            body,
        } => {
            let mut response = match body {
                Some(body) => Response::text(status, body),
                None => Response::google_error(status, fault_message(status)),
            };
            if let Some(retry_after) = retry_after {
                response = response.header("Retry-After", retry_after);
            }
            Reply::Respond(response)
        }
        FaultAction::DailyQuota => Reply::Respond(Response::json(
            429,
            &serde_json::json!({"error": {
                "code": 429,
                "message": "Quota exceeded for quota metric 'All requests' and limit 'All requests per day' of service 'photoslibrary.googleapis.com' for consumer 'project_number:0'.",
                "status": "RESOURCE_EXHAUSTED",
                "details": [{
                    "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                    "reason": "RATE_LIMIT_EXCEEDED",
                    "domain": "googleapis.com",
                    "metadata": {"quota_limit": "ApiCallsPerProjectPerDay", "quota_metric": "photoslibrary.googleapis.com/all_requests", "service": "photoslibrary.googleapis.com"}
                }]
            }}),
        )),
        FaultAction::DropAfter { bytes } => {
            let streams_itself = matches!(
                route,
                Route::Raw
                    | Route::Session(session::Command::Upload | session::Command::UploadFinalize)
            );
            if streams_itself || bytes >= ex.body.remaining() {
                // The request arrived (in full, or in part for an upload that keeps whole units):
                // it takes effect, but the client never hears back.
                ex.fault = Some(FaultAction::DropAfter { bytes });
                let _ = dispatch(ex, route);
            } else {
                let mut left = bytes;
                while left > 0 {
                    let max = usize::try_from(left).unwrap_or(BUF_SIZE).min(BUF_SIZE);
                    match ex.body.next(max) {
                        Ok(piece) if !piece.is_empty() => left -= piece.len() as u64,
                        _ => break,
                    }
                }
            }
            Reply::Hangup
        }
        FaultAction::Stall { duration } => {
            let reply = dispatch(ex, route);
            stall(ex.shared, duration);
            reply
        }
        FaultAction::LoseTail { .. } => {
            ex.fault = Some(fault);
            dispatch(ex, route)
        }
        FaultAction::ExpireSession => {
            if matches!(route, Route::Session(_)) {
                session::expire_session(ex);
            }
            dispatch(ex, route)
        }
        FaultAction::ExpireAccessToken => {
            if route.needs_bearer() {
                oauth::expire_presented_token(ex.shared, ex.head);
            }
            dispatch(ex, route)
        }
        FaultAction::MalformedHeaders => match dispatch(ex, route) {
            Reply::Respond(mut response) => {
                garble_headers(&mut response);
                Reply::Respond(response)
            }
            Reply::Hangup => Reply::Hangup,
        },
        FaultAction::MalformedBody => match dispatch(ex, route) {
            Reply::Respond(mut response) => {
                garble_body(&mut response);
                Reply::Respond(response)
            }
            Reply::Hangup => Reply::Hangup,
        },
    }
}

fn fault_message(status: u16) -> &'static str {
    match status {
        429 => {
            "Quota exceeded for quota metric 'Write requests' and limit 'Write requests per minute per user' of service 'photoslibrary.googleapis.com'."
        }
        500 => "Internal error encountered.",
        502 => "Bad gateway.",
        503 => "The service is currently unavailable.",
        504 => "Deadline exceeded.",
        _ => "Injected fault.",
    }
}

/// Sleeps in slices so that stopping the emulator is not held up.
fn stall(shared: &Shared, duration: Duration) {
    let until = Instant::now() + duration;
    while !shared.stopping() {
        let now = Instant::now();
        if now >= until {
            return;
        }
        std::thread::sleep((until - now).min(Duration::from_millis(50)));
    }
}

fn garble_headers(response: &mut Response) {
    let is_upload_header = |name: &str| name.to_ascii_lowercase().starts_with("x-goog-upload-");
    let had_upload_headers = response.headers.iter().any(|(n, _)| is_upload_header(n));
    response
        .headers
        .retain(|(name, _)| !name.eq_ignore_ascii_case("x-goog-upload-url"));
    for (name, value) in &mut response.headers {
        if is_upload_header(name) {
            *value = "%garbage%".into();
        } else if !had_upload_headers && name.eq_ignore_ascii_case("content-type") {
            *value = "garbage/;;=".into();
        }
    }
}

fn garble_body(response: &mut Response) {
    let json = response
        .header_value("content-type")
        .is_some_and(|v| v.contains("json"));
    if json {
        response.body = b"{\"newMediaItemResults\": [<html>garbage".to_vec();
    } else {
        response.body.clear();
    }
}

/// The body of a JSON or form request, bounded.
fn small_body(ex: &mut Exchange<'_, '_>) -> Result<Vec<u8>, Reply> {
    let Some(len) = ex.content_length else {
        return Err(Reply::Respond(Response::google_error(
            411,
            "This request needs Content-Length.",
        )));
    };
    if len > MAX_SMALL_BODY {
        return Err(Reply::Respond(
            Response::google_error(
                413,
                format!("The body is larger than {MAX_SMALL_BODY} bytes."),
            )
            .closing(),
        ));
    }
    ex.body.read_to_vec().map_err(|_| Reply::Hangup)
}

fn dispatch(ex: &mut Exchange<'_, '_>, route: &Route) -> Reply {
    if route.needs_bearer()
        && !matches!(route, Route::Start | Route::Raw)
        && let Err(response) = oauth::check_bearer(ex.shared, ex.head)
    {
        return Reply::Respond(response);
    }
    let shared = ex.shared;
    let head = ex.head;
    let with_body =
        |ex: &mut Exchange<'_, '_>, handle: &dyn Fn(&[u8]) -> Response| match small_body(ex) {
            Ok(body) => Reply::Respond(handle(&body)),
            Err(reply) => reply,
        };
    match route {
        Route::Start => upload::start(ex),
        Route::Raw => upload::raw(ex),
        Route::Session(command) => session::session_command(ex, *command),
        Route::BadUpload(message) => Reply::Respond(Response::google_error(400, *message)),
        Route::BatchCreate => with_body(ex, &|body| library::batch_create(shared, body)),
        Route::GetMediaItem(id) => Reply::Respond(library::get_media_item(shared, id)),
        Route::CreateAlbum => with_body(ex, &|body| library::create_album(shared, body)),
        Route::BatchAdd(id) => with_body(ex, &|body| library::batch_add(shared, id, body)),
        Route::Token => with_body(ex, &|body| oauth::token(shared, head, body)),
        Route::Consent => Reply::Respond(oauth::consent(shared, head)),
        Route::ControlFaults => {
            if head.method == "POST" {
                with_body(ex, &|body| control::faults(shared, &head.method, body))
            } else {
                Reply::Respond(control::faults(shared, &head.method, &[]))
            }
        }
        Route::ControlState => Reply::Respond(control::state(shared)),
        Route::NotFound => Reply::Respond(Response::google_error(
            404,
            format!("No route for {} {}.", head.method, head.path),
        )),
        Route::MethodNotAllowed(allow) => Reply::Respond(
            Response::google_error(405, format!("{} is not allowed here.", head.method))
                .header("Allow", *allow),
        ),
    }
}
