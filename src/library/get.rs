//! `mediaItems.get`: one media item by id.

use http::{Request, StatusCode};
use serde::{Deserialize, Serialize};

use super::{IdKind, InvalidRequest, LibraryRequest, MediaItem, Resend, wire};
use crate::{Endpoint, Payload};

/// `GET {base}mediaItems/{id}`: reads one media item the app created (needs the
/// `photoslibrary.readonly.appcreateddata` scope). Safe to repeat.
///
/// ```
/// use gphotos_upload::library::{GetMediaItem, LibraryRequest};
/// use gphotos_upload::Endpoint;
///
/// let get = GetMediaItem::new("AF1/x")?;
/// let request = get.to_request(&Endpoint::google());
/// assert_eq!(request.uri().path(), "/v1/mediaItems/AF1%2Fx");
/// # Ok::<(), gphotos_upload::library::InvalidRequest>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GetMediaItem {
    id: String,
}

impl GetMediaItem {
    /// A read of media item `id`.
    ///
    /// # Errors
    /// [`InvalidRequest::BadId`] when the id is empty, `.`/`..` or absurdly long.
    pub fn new(id: impl Into<String>) -> Result<Self, InvalidRequest> {
        let id = id.into();
        wire::check_id(&id, IdKind::MediaItem, None)?;
        Ok(Self { id })
    }

    /// The id to read.
    pub fn id(&self) -> &str {
        &self.id
    }
}

impl LibraryRequest for GetMediaItem {
    type Output = MediaItem;

    fn resend(&self) -> Resend {
        Resend::Safe
    }

    fn to_request(&self, endpoint: &Endpoint) -> Request<Payload> {
        let path = format!("mediaItems/{}", wire::segment(&self.id));
        wire::get(endpoint.join(&path))
    }

    fn parse_reply(&self, _status: StatusCode, body: &[u8]) -> Result<MediaItem, String> {
        let map = wire::json_object(body)?;
        MediaItem::from_json(&serde_json::Value::Object(map))
            .ok_or_else(|| "the media item has no id".to_owned())
    }
}
