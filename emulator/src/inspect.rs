//! Snapshots of the emulator's state for tests and the `/emulator/state` endpoint. Nothing in them
//! is a secret: no access or upload tokens, no session URLs.

use std::path::PathBuf;

use serde::Serialize;

use crate::faults::{FaultRule, RequestKind};
use crate::state::{RequestRecord, SessionStatus, State};

/// Everything the emulator knows, at one instant.
#[derive(Debug, Clone, Serialize)]
pub struct Inspection {
    /// Resumable sessions in the order they started.
    pub sessions: Vec<SessionInfo>,
    /// Finished objects (finalized sessions and raw uploads) in the order they finished.
    pub objects: Vec<ObjectInfo>,
    /// Media items in the order batchCreate made them.
    pub media_items: Vec<MediaItemInfo>,
    /// Albums in the order they were created.
    pub albums: Vec<AlbumInfo>,
    /// Requests seen, oldest first (control requests are not recorded).
    pub requests: Vec<RequestRecord>,
    /// Oldest requests dropped from the log to bound memory.
    pub requests_dropped: u64,
    /// Fault rules installed now.
    pub faults: Vec<FaultRule>,
}

/// A resumable upload session.
#[derive(Debug, Clone, Serialize)]
pub struct SessionInfo {
    /// `X-GUploader-UploadID` (not the secret in the session URL).
    pub upload_id: String,
    /// `X-Goog-Upload-Raw-Size` declared at start.
    pub raw_size: u64,
    /// Bytes persisted: what a query reports.
    pub bytes_received: u64,
    /// Body bytes read on the session, including re-sent and discarded ones.
    pub bytes_seen: u64,
    /// Where the session stands.
    pub status: SessionStatus,
    /// `X-Goog-Upload-Content-Type`.
    pub content_type: String,
    /// `X-Goog-Upload-File-Name`, if sent.
    pub file_name: Option<String>,
    /// SHA-256 (hex) of the finished object, once final.
    pub sha256: Option<String>,
}

/// A finished upload.
#[derive(Debug, Clone, Serialize)]
pub struct ObjectInfo {
    /// SHA-256 of the bytes, lowercase hex.
    pub sha256: String,
    /// Length in bytes.
    pub size: u64,
    /// Declared content type.
    pub content_type: String,
    /// Declared file name, if any.
    pub file_name: Option<String>,
    /// The file holding the bytes ([`crate::Storage::TempDir`] only); deleted when the emulator stops.
    pub path: Option<PathBuf>,
}

/// A media item created by batchCreate.
#[derive(Debug, Clone, Serialize)]
pub struct MediaItemInfo {
    /// Its id.
    pub id: String,
    /// `filename`.
    pub filename: String,
    /// `description`, if any.
    pub description: Option<String>,
    /// `mimeType`.
    pub mime_type: String,
    /// Albums it belongs to.
    pub album_ids: Vec<String>,
    /// SHA-256 of its object.
    pub sha256: String,
    /// Size of its object.
    pub size: u64,
}

/// An album.
#[derive(Debug, Clone, Serialize)]
pub struct AlbumInfo {
    /// Its id.
    pub id: String,
    /// Its title.
    pub title: String,
    /// Items in album order.
    pub media_item_ids: Vec<String>,
}

impl Inspection {
    pub(crate) fn of(state: &State, faults: Vec<FaultRule>) -> Self {
        let mut sessions: Vec<_> = state.sessions.values().collect();
        sessions.sort_by_key(|s| s.seq);
        Self {
            sessions: sessions
                .into_iter()
                .map(|s| SessionInfo {
                    upload_id: s.upload_id.clone(),
                    raw_size: s.raw_size,
                    bytes_received: s.received,
                    bytes_seen: s.bytes_seen,
                    status: s.status,
                    content_type: s.content_type.clone(),
                    file_name: s.file_name.clone(),
                    sha256: s.object.map(|o| state.objects[o].sha256.clone()),
                })
                .collect(),
            objects: state
                .objects
                .iter()
                .map(|o| ObjectInfo {
                    sha256: o.sha256.clone(),
                    size: o.size,
                    content_type: o.content_type.clone(),
                    file_name: o.file_name.clone(),
                    path: o.path.clone(),
                })
                .collect(),
            media_items: state
                .media_items
                .iter()
                .map(|m| MediaItemInfo {
                    id: m.id.clone(),
                    filename: m.filename.clone(),
                    description: m.description.clone(),
                    mime_type: m.mime_type.clone(),
                    album_ids: m.albums.clone(),
                    sha256: state.objects[m.object].sha256.clone(),
                    size: state.objects[m.object].size,
                })
                .collect(),
            albums: state
                .albums
                .iter()
                .map(|a| AlbumInfo {
                    id: a.id.clone(),
                    title: a.title.clone(),
                    media_item_ids: a.items.clone(),
                })
                .collect(),
            requests: state.requests.iter().cloned().collect(),
            requests_dropped: state.requests_dropped,
            faults,
        }
    }

    /// The recorded requests of one kind.
    pub fn requests_of(&self, kind: RequestKind) -> impl Iterator<Item = &RequestRecord> + '_ {
        self.requests.iter().filter(move |r| r.kind == kind)
    }
}
