//! A media item as the Library API describes it.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A photo or video in the user's library.
///
/// Read tolerantly: only `id` is required; a field that is missing or of another type is `None`,
/// and fields this crate does not know are ignored. Serializes with Google's field names, so a
/// journal can keep it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MediaItem {
    /// Google's id of the item; use it with `mediaItems.get` or to add the item to an album.
    pub id: String,
    /// Google Photos URL of the item (needs the user's sign-in to open).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product_url: Option<String>,
    /// Temporary URL of the bytes, valid about an hour. Whoever holds it can read the media, so
    /// `Debug` shows only whether it is present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_url: Option<String>,
    /// MIME type, such as `image/jpeg`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mime_type: Option<String>,
    /// The file name shown to the user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filename: Option<String>,
    /// The item's description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

impl MediaItem {
    /// Reads a media item from Google's JSON; `None` without a non-empty string `id`.
    ///
    /// ```
    /// use gphotos_upload::library::MediaItem;
    ///
    /// let json = serde_json::json!({"id": "AF1", "filename": "a.jpg", "mediaMetadata": {}});
    /// let item = MediaItem::from_json(&json).unwrap();
    /// assert_eq!(item.id, "AF1");
    /// assert_eq!(item.filename.as_deref(), Some("a.jpg"));
    /// assert!(MediaItem::from_json(&serde_json::json!({"id": 5})).is_none());
    /// ```
    pub fn from_json(json: &serde_json::Value) -> Option<Self> {
        let map = json.as_object()?;
        let text = |key: &str| map.get(key).and_then(|v| v.as_str()).map(str::to_owned);
        let id = text("id").filter(|id| !id.is_empty())?;
        Some(Self {
            id,
            product_url: text("productUrl"),
            base_url: text("baseUrl"),
            mime_type: text("mimeType"),
            filename: text("filename"),
            description: text("description"),
        })
    }
}

impl fmt::Debug for MediaItem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MediaItem")
            .field("id", &self.id)
            .field("product_url", &self.product_url)
            .field("base_url", &self.base_url.as_ref().map(|_| "<redacted>"))
            .field("mime_type", &self.mime_type)
            .field("filename", &self.filename)
            .field("description", &self.description)
            .finish()
    }
}
