//! The job's journal: `Record::parse_journal` over arbitrary (mostly valid, then damaged) journals,
//! and a [`Job`] resumed from what it read and driven through arbitrary replies.
//!
//! A journal is a file a killed run left behind: torn, edited, or from another version. Reading it
//! must give records or a typed error; a job resumed from any readable journal must not panic, must
//! never ask for bytes beyond a file's size, and the records it writes must read back.

use std::time::Instant;

use arbitrary::Arbitrary;
use gphotos_upload::job::{
    AlbumChoice, FileKey, Job, JobAction, JobConfig, JobEvent, JobFile, Now, Record,
};
use gphotos_upload::upload::protocol;
use gphotos_upload::{Action, Endpoint, MediaFile, Payload, RequestId, Upload};
use http::header::HeaderMap;
use http::{Response, StatusCode};
use serde_json::Value;

use crate::json::{Doc, Json, Text};

const ROOT: &str = "http://127.0.0.1:9/v1/";
const G: u64 = 262_144;
/// Seconds since the Unix epoch of the harness's "now" (2025-01-01).
const NOW_UNIX: u64 = 1_735_689_600;

/// The files of the job: path, size, modification time.
const FILES: [(&str, u64, u64); 4] = [
    ("a.jpg", 10, 1),
    ("b.mp4", 3 * G + 5, 2),
    ("c.png", 1, 3),
    ("d.mov", 20 * G, 4),
];

fn key(index: u8) -> FileKey {
    match FILES.get(usize::from(index % 6)) {
        Some((path, size, modified)) => FileKey {
            path: (*path).to_owned(),
            size: *size,
            modified: *modified,
        },
        // Files the job does not have (deleted since, or renamed).
        None => FileKey {
            path: format!("gone-{index}.jpg"),
            size: u64::from(index),
            modified: 0,
        },
    }
}

fn upload_token(i: u8) -> String {
    format!("CAIS-UPLOAD-TOKEN-{i:03}-SECRET")
}

/// One journal record, built from valid parts and then possibly damaged.
#[derive(Arbitrary, Debug)]
pub enum Line {
    /// `album_created`.
    AlbumCreated {
        /// Title (index 0 is the job's own album).
        title: Text,
        /// Id.
        album_id: String,
    },
    /// `session`, with a real upload machine's state.
    Session {
        /// The file.
        file: u8,
        /// How far the machine got, and what was then changed in its JSON.
        upload: UploadState,
    },
    /// `uploaded`.
    Uploaded {
        /// The file.
        file: u8,
        /// Which token.
        token: u8,
        /// Seconds before now that the token was issued (may be in the future).
        age: i32,
    },
    /// `creating`.
    Creating(Vec<u8>),
    /// `created`.
    Created(u8, String),
    /// `unconfirmed`.
    Unconfirmed(u8, String),
    /// `token_dropped`.
    TokenDropped(u8),
    /// A record's JSON with one field replaced.
    Damaged(Box<Line>, Text, Json),
    /// Any bytes (a torn or foreign line).
    Raw(Vec<u8>),
}

/// An upload machine after a few steps, with fields of its JSON replaced.
#[derive(Arbitrary, Debug)]
pub struct UploadState {
    /// The size the machine believes the file has (0: the file's own).
    size: u64,
    /// Granularity the server announced.
    granularity: u16,
    /// Chunks acknowledged before the snapshot.
    acked: u8,
    /// A request in flight at the snapshot.
    in_flight: bool,
    /// Replacements in the machine's JSON, by field path.
    edits: Vec<(Field, Edit)>,
}

/// A replacement value.
#[derive(Arbitrary, Debug)]
pub enum Edit {
    /// `u64::MAX` less this.
    NearMax(u8),
    /// `u32::MAX` less this.
    NearMax32(u8),
    /// Any JSON.
    Json(Json),
}

impl Edit {
    fn value(&self) -> Value {
        match self {
            Self::NearMax(less) => Value::from(u64::MAX - u64::from(*less)),
            Self::NearMax32(less) => Value::from(u32::MAX - u32::from(*less)),
            Self::Json(json) => json.to_value(WORDS, WORDS, 0),
        }
    }
}

/// A field of the upload machine's JSON.
#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum Field {
    /// `confirmed`.
    Confirmed,
    /// `file.size`.
    FileSize,
    /// `file.mime_type`.
    MimeType,
    /// `session.granularity`.
    Granularity,
    /// `session.sent_end`.
    SentEnd,
    /// `session.uri`.
    SessionUri,
    /// `session`.
    Session,
    /// `step`.
    Step,
    /// `next_id`.
    NextId,
    /// `sessions`.
    Sessions,
    /// `rewinds`.
    Rewinds,
    /// `refusals`.
    Refusals,
    /// `auth_failures`.
    AuthFailures,
    /// `config.chunk_size`.
    ChunkSize,
    /// `config.max_sessions`.
    MaxSessions,
    /// `config.retry.max_attempts`.
    MaxAttempts,
    /// `backoff.attempts`.
    BackoffAttempts,
    /// `endpoint`.
    Endpoint,
}

impl Field {
    fn path(self) -> &'static [&'static str] {
        match self {
            Self::Confirmed => &["confirmed"],
            Self::FileSize => &["file", "size"],
            Self::MimeType => &["file", "mime_type"],
            Self::Granularity => &["session", "granularity"],
            Self::SentEnd => &["session", "sent_end"],
            Self::SessionUri => &["session", "uri"],
            Self::Session => &["session"],
            Self::Step => &["step"],
            Self::NextId => &["next_id"],
            Self::Sessions => &["sessions"],
            Self::Rewinds => &["rewinds"],
            Self::Refusals => &["refusals"],
            Self::AuthFailures => &["auth_failures"],
            Self::ChunkSize => &["config", "chunk_size"],
            Self::MaxSessions => &["config", "max_sessions"],
            Self::MaxAttempts => &["config", "retry", "max_attempts"],
            Self::BackoffAttempts => &["backoff", "attempts"],
            Self::Endpoint => &["endpoint"],
        }
    }
}

const WORDS: &[&str] = &[
    "record",
    "session",
    "uploaded",
    "creating",
    "created",
    "unconfirmed",
    "token_dropped",
    "album_created",
    "file",
    "path",
    "size",
    "modified",
    "upload",
    "token",
    "issued_at",
    "files",
    "media_item_id",
    "reason",
    "title",
    "album_id",
    "Ready",
    "Chunk",
    "Query",
    "Start",
    "Cancel",
    "NeedToken",
    "Done",
    "Failed",
    "http://127.0.0.1:9/upload/0?upload_id=x",
    "http://example.com/upload",
    "https://photoslibrary.googleapis.com/v1/",
    "image/jpeg",
    "bad\nmime",
    "",
];

/// A real upload machine of `size` bytes after `acked` chunks, serialized.
fn upload_json(size: u64, state: &UploadState) -> Value {
    let file = MediaFile {
        size,
        mime_type: "video/mp4".into(),
        file_name: Some("b.mp4".into()),
    };
    let config = gphotos_upload::UploadConfig {
        chunk_size: G,
        ..gphotos_upload::UploadConfig::default()
    };
    let endpoint = Endpoint::parse(ROOT).expect("a loopback root");
    let Ok(mut upload) = Upload::new(endpoint, file, config) else {
        return Value::Null;
    };
    let now = Instant::now();
    let granularity = u64::from(state.granularity.max(1));
    let mut acked = 0;
    for _ in 0..8 {
        let Action::Send(transmit) = upload.poll_action(now) else {
            break;
        };
        if state.in_flight && acked == state.acked {
            break;
        }
        let command = protocol::text(transmit.request.headers(), &protocol::COMMAND)
            .unwrap_or_default()
            .to_owned();
        let reply = match command.as_str() {
            "start" => Response::builder()
                .header("x-goog-upload-status", "active")
                .header(
                    "x-goog-upload-url",
                    "http://127.0.0.1:9/upload/0?upload_id=x",
                )
                .header("x-goog-upload-chunk-granularity", granularity.to_string()),
            "upload" if acked < state.acked => {
                acked += 1;
                Response::builder().header("x-goog-upload-status", "active")
            }
            _ => break,
        };
        let reply = reply.body(Vec::new()).expect("a valid reply");
        if upload.handle_response(now, transmit.id, &reply).is_err() {
            break;
        }
    }
    let mut json = serde_json::to_value(&upload).expect("a machine serializes");
    for (field, edit) in &state.edits {
        set(&mut json, field.path(), edit.value());
    }
    json
}

fn set(json: &mut Value, path: &[&str], value: Value) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let mut at = json;
    for part in parents {
        match at.get_mut(*part) {
            Some(next) if next.is_object() => at = next,
            _ => return,
        }
    }
    if let Some(object) = at.as_object_mut() {
        object.insert((*last).to_owned(), value);
    }
}

fn line_json(line: &Line) -> Option<Value> {
    let file_json = |i: u8| serde_json::to_value(key(i)).expect("a key serializes");
    Some(match line {
        Line::AlbumCreated { title, album_id } => serde_json::json!({
            "record": "album_created",
            "title": title.to_string_in(&["Holidays", ""]),
            "album_id": album_id,
        }),
        Line::Session { file, upload } => {
            let size = if upload.size == 0 {
                key(*file).size
            } else {
                upload.size
            };
            serde_json::json!({
                "record": "session",
                "file": file_json(*file),
                "upload": upload_json(size, upload),
            })
        }
        Line::Uploaded { file, token, age } => serde_json::json!({
            "record": "uploaded",
            "file": file_json(*file),
            "token": upload_token(*token),
            "issued_at": NOW_UNIX.saturating_add_signed(-i64::from(*age)),
        }),
        Line::Creating(files) => serde_json::json!({
            "record": "creating",
            "files": files.iter().map(|f| file_json(*f)).collect::<Vec<_>>(),
        }),
        Line::Created(file, id) => serde_json::json!({
            "record": "created", "file": file_json(*file), "media_item_id": id,
        }),
        Line::Unconfirmed(file, reason) => serde_json::json!({
            "record": "unconfirmed", "file": file_json(*file), "reason": reason,
        }),
        Line::TokenDropped(file) => serde_json::json!({
            "record": "token_dropped", "file": file_json(*file),
        }),
        Line::Damaged(inner, field, value) => {
            let mut json = line_json(inner)?;
            if let Some(object) = json.as_object_mut() {
                object.insert(field.to_string_in(WORDS), value.to_value(WORDS, WORDS, 0));
            }
            json
        }
        Line::Raw(_) => return None,
    })
}

/// One input of the `journal` target.
#[derive(Arbitrary, Debug)]
pub struct JournalInput {
    lines: Vec<Line>,
    /// Cut the journal's bytes here (a torn write), if given.
    torn_at: Option<u16>,
    /// Create an album (`Holidays`) rather than use the library.
    album: bool,
    concurrency: u8,
    /// Replies to the resumed job's requests.
    replies: Vec<JobReply>,
}

/// A reply to whatever the job asked.
#[derive(Arbitrary, Debug)]
pub struct JobReply {
    status: u8,
    upload_status: Option<u8>,
    /// Acknowledge the whole request's range.
    ack: bool,
    size_received: Option<u64>,
    granularity: Option<u16>,
    body: Doc,
    transport_error: bool,
}

/// Reads a journal and resumes a job from it.
pub fn journal(input: &JournalInput) {
    let mut text = Vec::new();
    for line in &input.lines {
        match (line, line_json(line)) {
            (Line::Raw(bytes), _) => text.extend_from_slice(bytes),
            (_, Some(json)) => text.extend(serde_json::to_vec(&json).expect("JSON serializes")),
            (_, None) => {}
        }
        text.push(b'\n');
    }
    if let Some(at) = input.torn_at {
        text.truncate(usize::from(at));
    }
    let records = match Record::parse_journal(&text) {
        Ok(records) => records,
        Err(error) => {
            assert!(error.line >= 1);
            assert!(!error.to_string().is_empty());
            return;
        }
    };
    for record in &records {
        check_record(record);
    }
    let files: Vec<JobFile> = (0..FILES.len() as u8)
        .map(|i| JobFile {
            key: key(i),
            mime_type: "image/jpeg".into(),
            file_name: Some(key(i).path),
            description: None,
        })
        .collect();
    let config = JobConfig {
        concurrency: usize::from(input.concurrency % 4) + 1,
        album: if input.album {
            AlbumChoice::Create("Holidays".into())
        } else {
            AlbumChoice::None
        },
        upload: gphotos_upload::UploadConfig {
            chunk_size: G,
            ..gphotos_upload::UploadConfig::default()
        },
        simple_upload_max: 16,
        ..JobConfig::default()
    };
    let mut now = Now {
        instant: Instant::now(),
        unix: NOW_UNIX,
    };
    let endpoint = Endpoint::parse(ROOT).expect("a loopback root");
    let mut job = Job::new(endpoint, files.clone(), config, &records, now);
    drive(&mut job, &files, &input.replies, &mut now);
}

/// What the job writes must read back as the same record.
fn check_record(record: &Record) {
    let line = record.to_line();
    let again =
        Record::parse_journal(&line).unwrap_or_else(|e| panic!("a record does not read back: {e}"));
    assert_eq!(again.len(), 1, "one line, one record");
    assert_eq!(
        again[0].to_line(),
        line,
        "a record changes when read back and written again"
    );
    if let Record::Uploaded { token, .. } = record {
        let shown = format!("{record:?}");
        let secret = token.expose();
        assert!(
            secret.len() < 8 || !shown.contains(secret),
            "an upload token in Debug: {shown}"
        );
    }
}

fn drive(job: &mut Job, files: &[JobFile], replies: &[JobReply], now: &mut Now) {
    let mut in_flight: Vec<(RequestId, Option<(u64, u64)>)> = Vec::new();
    let mut replies = replies.iter();
    for _ in 0..400 {
        let progress = job.progress();
        assert!(progress.finished <= progress.files);
        assert!(progress.bytes_confirmed <= progress.bytes, "{progress:?}");
        while let Some(event) = job.poll_event() {
            if let JobEvent::Journal(record) = event {
                check_record(&record);
            }
        }
        match job.poll_action(*now) {
            JobAction::Send(send) => {
                let request = &send.transmit.request;
                let range = match request.body() {
                    Payload::Range { offset, len } => {
                        let index = send.file.expect("a range names its file");
                        let size = files[index].key.size;
                        assert!(
                            offset.checked_add(*len).is_some_and(|end| end <= size),
                            "the job asks for bytes {offset}+{len} of {} ({size} bytes)",
                            files[index].key.path
                        );
                        Some((*offset, *len))
                    }
                    _ => None,
                };
                in_flight.push((send.transmit.id, range));
                continue;
            }
            JobAction::WaitUntil(until) => {
                now.instant = now.instant.max(until);
                now.unix += 1;
                continue;
            }
            JobAction::RefreshToken => {
                job.token_refreshed();
                continue;
            }
            JobAction::AwaitReply => {}
            JobAction::Finished => return,
        }
        let Some((id, range)) = in_flight.pop() else {
            panic!("the job awaits a reply with nothing in flight");
        };
        let Some(reply) = replies.next() else {
            return;
        };
        if reply.transport_error {
            job.handle_transport_error(*now, id, &"connection reset")
                .expect("a request in flight");
            continue;
        }
        let response = response(reply, range);
        job.handle_response(*now, id, &response)
            .expect("a request in flight");
        assert!(
            job.handle_response(*now, id, &response).is_err(),
            "a reply is taken once"
        );
    }
}

fn response(reply: &JobReply, range: Option<(u64, u64)>) -> Response<Vec<u8>> {
    let status = match reply.status % 8 {
        0..=3 => 200,
        4 => 503,
        5 => 400,
        6 => 401,
        _ => 404,
    };
    let mut headers = HeaderMap::new();
    if let Some(s) = reply.upload_status {
        let text = ["active", "final", "cancelled", "bogus"][usize::from(s % 4)];
        headers.insert(protocol::STATUS, text.parse().expect("a header value"));
    }
    let size = match (reply.ack, range) {
        (true, Some((offset, len))) => Some(offset + len),
        _ => reply.size_received,
    };
    if let Some(size) = size {
        headers.insert(protocol::SIZE_RECEIVED, size.into());
    }
    headers.insert(
        protocol::URL,
        "http://127.0.0.1:9/upload/1?upload_id=y"
            .parse()
            .expect("a header value"),
    );
    if let Some(g) = reply.granularity {
        headers.insert(protocol::GRANULARITY, u64::from(g.max(1)).into());
    }
    let words: Vec<String> = (0..4)
        .map(upload_token)
        .chain(
            [
                "newMediaItemResults",
                "uploadToken",
                "status",
                "code",
                "mediaItem",
                "id",
            ]
            .map(str::to_owned),
        )
        .collect();
    let words: Vec<&str> = words.iter().map(String::as_str).collect();
    let body = reply.body.bytes(&words, &words);
    let mut response = Response::new(body);
    *response.status_mut() = StatusCode::from_u16(status).expect("a valid status");
    *response.headers_mut() = headers;
    response
}
