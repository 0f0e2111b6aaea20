//! `albums.create` and `albums:batchAddMediaItems`.

use std::collections::HashMap;

use http::{Request, StatusCode};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{IdKind, InvalidRequest, LibraryRequest, MAX_BATCH, Resend, wire};
use crate::{Endpoint, Payload};

/// Longest album title Google Photos accepts, in characters.
pub const MAX_ALBUM_TITLE_CHARS: usize = 500;

/// An album, as the Library API describes it. Read tolerantly: only `id` is required.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Album {
    /// Google's id of the album.
    pub id: String,
    /// The album's title.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Google Photos URL of the album.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product_url: Option<String>,
    /// Whether the app may add items to it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_writeable: Option<bool>,
    /// How many items it holds (Google sends the number as a string).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_items_count: Option<u64>,
}

impl Album {
    /// Reads an album from Google's JSON; `None` without a non-empty string `id`.
    ///
    /// ```
    /// use gphotos_upload::library::Album;
    ///
    /// let json = serde_json::json!({"id": "AL1", "title": "Trip", "mediaItemsCount": "3"});
    /// let album = Album::from_json(&json).unwrap();
    /// assert_eq!(album.media_items_count, Some(3));
    /// ```
    pub fn from_json(json: &serde_json::Value) -> Option<Self> {
        let map = json.as_object()?;
        let text = |key: &str| map.get(key).and_then(|v| v.as_str()).map(str::to_owned);
        let count = match map.get("mediaItemsCount") {
            Some(serde_json::Value::String(s)) => s.trim().parse().ok(),
            Some(serde_json::Value::Number(n)) => n.as_u64(),
            _ => None,
        };
        Some(Self {
            id: text("id").filter(|id| !id.is_empty())?,
            title: text("title"),
            product_url: text("productUrl"),
            is_writeable: map.get("isWriteable").and_then(serde_json::Value::as_bool),
            media_items_count: count,
        })
    }
}

/// `POST {base}albums` `{"album": {"title"}}`: creates an album.
///
/// Not safe to repeat ([`Resend::OnlyIfUnprocessed`]): creating twice makes two albums. After
/// [`super::CallAction::Ambiguous`], look for the album before creating it again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateAlbum {
    title: String,
}

impl CreateAlbum {
    /// A new album titled `title`.
    ///
    /// # Errors
    /// [`InvalidRequest::BadAlbumTitle`] when the title is blank or longer than
    /// [`MAX_ALBUM_TITLE_CHARS`] characters.
    pub fn new(title: impl Into<String>) -> Result<Self, InvalidRequest> {
        let title = title.into();
        let chars = title.chars().count();
        if title.trim().is_empty() || chars > MAX_ALBUM_TITLE_CHARS {
            return Err(InvalidRequest::BadAlbumTitle { chars });
        }
        Ok(Self { title })
    }

    /// The title.
    pub fn title(&self) -> &str {
        &self.title
    }
}

impl LibraryRequest for CreateAlbum {
    type Output = Album;

    fn resend(&self) -> Resend {
        Resend::OnlyIfUnprocessed
    }

    fn to_request(&self, endpoint: &Endpoint) -> Request<Payload> {
        wire::post_json(
            endpoint.join("albums"),
            &json!({"album": {"title": self.title}}),
        )
    }

    fn parse_reply(&self, _status: StatusCode, body: &[u8]) -> Result<Album, String> {
        let map = wire::json_object(body)?;
        Album::from_json(&serde_json::Value::Object(map))
            .ok_or_else(|| "the album has no id".to_owned())
    }
}

/// `POST {base}albums/{id}:batchAddMediaItems` `{"mediaItemIds": [...]}`: adds 1 to
/// [`MAX_BATCH`] media items the app created to an album the app created, all or nothing.
///
/// Not repeated blindly ([`Resend::OnlyIfUnprocessed`]); after [`super::CallAction::Ambiguous`]
/// the caller decides whether to send it again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AddToAlbum {
    album_id: String,
    media_item_ids: Vec<String>,
}

impl AddToAlbum {
    /// Adds `media_item_ids` (1 to [`MAX_BATCH`]) to album `album_id`.
    ///
    /// # Errors
    /// [`InvalidRequest`] when there are no ids or too many, an id is invalid or repeated.
    pub fn new(
        album_id: impl Into<String>,
        media_item_ids: Vec<String>,
    ) -> Result<Self, InvalidRequest> {
        if media_item_ids.is_empty() {
            return Err(InvalidRequest::EmptyBatch);
        }
        if media_item_ids.len() > MAX_BATCH {
            return Err(InvalidRequest::TooManyItems {
                count: media_item_ids.len(),
                max: MAX_BATCH,
            });
        }
        let album_id = album_id.into();
        wire::check_id(&album_id, IdKind::Album, None)?;
        check_ids(&media_item_ids)?;
        Ok(Self {
            album_id,
            media_item_ids,
        })
    }

    /// Splits any number of ids into calls of at most [`MAX_BATCH`], in order (0 ids, no call).
    ///
    /// ```
    /// use gphotos_upload::library::AddToAlbum;
    ///
    /// let ids: Vec<String> = (0..120).map(|i| format!("AF{i}")).collect();
    /// let calls = AddToAlbum::split("AL1", ids)?;
    /// assert_eq!(calls.iter().map(|c| c.media_item_ids().len()).collect::<Vec<_>>(), [50, 50, 20]);
    /// # Ok::<(), gphotos_upload::library::InvalidRequest>(())
    /// ```
    ///
    /// # Errors
    /// [`InvalidRequest`] when an id is invalid or repeated (named by its place in the list).
    pub fn split(
        album_id: impl Into<String>,
        media_item_ids: Vec<String>,
    ) -> Result<Vec<Self>, InvalidRequest> {
        let album_id = album_id.into();
        wire::check_id(&album_id, IdKind::Album, None)?;
        check_ids(&media_item_ids)?;
        let mut calls = Vec::with_capacity(media_item_ids.len().div_ceil(MAX_BATCH));
        let mut ids = media_item_ids.into_iter().peekable();
        while ids.peek().is_some() {
            calls.push(Self {
                album_id: album_id.clone(),
                media_item_ids: ids.by_ref().take(MAX_BATCH).collect(),
            });
        }
        Ok(calls)
    }

    /// The album.
    pub fn album_id(&self) -> &str {
        &self.album_id
    }

    /// The media items to add.
    pub fn media_item_ids(&self) -> &[String] {
        &self.media_item_ids
    }
}

fn check_ids(ids: &[String]) -> Result<(), InvalidRequest> {
    let mut seen = HashMap::with_capacity(ids.len());
    for (item, id) in ids.iter().enumerate() {
        wire::check_id(id, IdKind::MediaItem, Some(item))?;
        if let Some(first) = seen.insert(id.as_str(), item) {
            return Err(InvalidRequest::DuplicateId { item, first });
        }
    }
    Ok(())
}

impl LibraryRequest for AddToAlbum {
    type Output = ();

    fn resend(&self) -> Resend {
        Resend::OnlyIfUnprocessed
    }

    fn to_request(&self, endpoint: &Endpoint) -> Request<Payload> {
        let path = format!(
            "albums/{}:batchAddMediaItems",
            wire::segment(&self.album_id)
        );
        wire::post_json(
            endpoint.join(&path),
            &json!({"mediaItemIds": self.media_item_ids}),
        )
    }

    /// The reply is an empty object; a 2xx alone says the call succeeded (it is all or nothing).
    fn parse_reply(&self, _status: StatusCode, _body: &[u8]) -> Result<(), String> {
        Ok(())
    }
}
