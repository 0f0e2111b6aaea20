//! Which handler a request goes to, and what kind of request it is.

use crate::faults::RequestKind;
use crate::http::Head;
use crate::session::Command;

/// Where a request goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Route {
    Start,
    Raw,
    Session(Command),
    /// `/v1/uploads` with headers that name no valid operation: 400 with this message.
    BadUpload(&'static str),
    BatchCreate,
    GetMediaItem(String),
    CreateAlbum,
    BatchAdd(String),
    Token,
    Consent,
    ControlFaults,
    ControlState,
    NotFound,
    /// Known path, wrong method: 405 with this `Allow` value.
    MethodNotAllowed(&'static str),
}

impl Route {
    pub(crate) fn kind(&self) -> RequestKind {
        match self {
            Self::Start => RequestKind::Start,
            Self::Raw => RequestKind::Raw,
            Self::Session(Command::Upload) => RequestKind::Upload,
            Self::Session(Command::UploadFinalize | Command::Finalize) => RequestKind::Finalize,
            Self::Session(Command::Query) => RequestKind::Query,
            Self::Session(Command::Cancel) => RequestKind::Cancel,
            Self::BatchCreate => RequestKind::BatchCreate,
            Self::GetMediaItem(_) => RequestKind::Get,
            Self::CreateAlbum | Self::BatchAdd(_) => RequestKind::Albums,
            Self::Token => RequestKind::Token,
            Self::Consent => RequestKind::Consent,
            Self::ControlFaults | Self::ControlState => RequestKind::Control,
            Self::BadUpload(_) | Self::NotFound | Self::MethodNotAllowed(_) => RequestKind::Other,
        }
    }

    /// Requests that Google authorizes with the bearer token (session URLs are capabilities).
    pub(crate) fn needs_bearer(&self) -> bool {
        matches!(
            self,
            Self::Start
                | Self::Raw
                | Self::BatchCreate
                | Self::GetMediaItem(_)
                | Self::CreateAlbum
                | Self::BatchAdd(_)
        )
    }
}

pub(crate) fn route(head: &Head) -> Route {
    // Some clients percent-encode the ':' of custom methods.
    let path = head.path.replace("%3A", ":").replace("%3a", ":");
    let method = head.method.as_str();
    let only = |wanted: &'static str, route: Route| {
        if method == wanted {
            route
        } else {
            Route::MethodNotAllowed(wanted)
        }
    };
    match path.as_str() {
        "/v1/uploads" => uploads(head),
        "/v1/mediaItems:batchCreate" => only("POST", Route::BatchCreate),
        "/v1/albums" => only("POST", Route::CreateAlbum),
        "/oauth2/token" => only("POST", Route::Token),
        "/oauth2/auth" => only("GET", Route::Consent),
        "/emulator/faults" => match method {
            "GET" | "POST" | "DELETE" => Route::ControlFaults,
            _ => Route::MethodNotAllowed("GET, POST, DELETE"),
        },
        "/emulator/state" => only("GET", Route::ControlState),
        _ => {
            if let Some(id) = path.strip_prefix("/v1/mediaItems/")
                && !id.is_empty()
                && !id.contains(['/', ':'])
            {
                return only("GET", Route::GetMediaItem(id.to_owned()));
            }
            if let Some(rest) = path.strip_prefix("/v1/albums/")
                && let Some(id) = rest.strip_suffix(":batchAddMediaItems")
                && !id.is_empty()
                && !id.contains('/')
            {
                return only("POST", Route::BatchAdd(id.to_owned()));
            }
            Route::NotFound
        }
    }
}

fn uploads(head: &Head) -> Route {
    let command = head.header("x-goog-upload-command");
    if head.query_param("upload_id").is_some() {
        if !matches!(head.method.as_str(), "POST" | "PUT") {
            return Route::MethodNotAllowed("POST, PUT");
        }
        return match command.and_then(Command::parse) {
            Some(command) => Route::Session(command),
            None => Route::BadUpload(
                "X-Goog-Upload-Command must be upload, `upload, finalize`, finalize, query or cancel on a session URL.",
            ),
        };
    }
    if head.method != "POST" {
        return Route::MethodNotAllowed("POST");
    }
    let protocol = head
        .header("x-goog-upload-protocol")
        .map(str::to_ascii_lowercase);
    match protocol.as_deref() {
        Some("resumable") => {
            if command.is_some_and(|c| c.eq_ignore_ascii_case("start")) {
                Route::Start
            } else {
                Route::BadUpload("A resumable upload begins with X-Goog-Upload-Command: start.")
            }
        }
        Some("raw") => Route::Raw,
        Some(_) => Route::BadUpload("X-Goog-Upload-Protocol must be resumable or raw."),
        None => Route::BadUpload("X-Goog-Upload-Protocol is required (resumable or raw)."),
    }
}
