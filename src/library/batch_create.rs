//! `mediaItems:batchCreate`: turning upload tokens into media items, with each item's own outcome.

use std::collections::HashMap;
use std::fmt;

use http::{Request, StatusCode};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::wire;
use super::{IdKind, InvalidRequest, LibraryRequest, MAX_BATCH, MediaItem, Resend};
use crate::{Endpoint, Payload, UploadToken};

/// Longest file name Google Photos accepts, in characters.
pub const MAX_FILE_NAME_CHARS: usize = 255;
/// Descriptions must be shorter than this many characters.
pub const MAX_DESCRIPTION_CHARS: usize = 1000;

/// Shown instead of an upload token that the server echoed in a message.
const TOKEN_PLACEHOLDER: &str = "<upload token>";

/// One media item to create from a finished upload.
///
/// ```
/// use gphotos_upload::UploadToken;
/// use gphotos_upload::library::NewMediaItem;
///
/// let item = NewMediaItem::new(UploadToken::new("t"))
///     .with_file_name("beach.jpg")
///     .with_description("Low tide");
/// assert_eq!(item.file_name.as_deref(), Some("beach.jpg"));
/// assert!(!format!("{item:?}").contains("\"t\""), "the token is redacted");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewMediaItem {
    /// The token a finished upload returned; single-use, valid for one day.
    pub upload_token: UploadToken,
    /// The file name shown to the user (at most [`MAX_FILE_NAME_CHARS`] characters).
    pub file_name: Option<String>,
    /// The item's description (fewer than [`MAX_DESCRIPTION_CHARS`] characters).
    pub description: Option<String>,
}

impl NewMediaItem {
    /// An item with neither file name nor description.
    pub fn new(upload_token: UploadToken) -> Self {
        Self {
            upload_token,
            file_name: None,
            description: None,
        }
    }

    /// Sets the file name.
    #[must_use]
    pub fn with_file_name(mut self, file_name: impl Into<String>) -> Self {
        self.file_name = Some(file_name.into());
        self
    }

    /// Sets the description.
    #[must_use]
    pub fn with_description(mut self, description: impl Into<String>) -> Self {
        self.description = Some(description.into());
        self
    }

    fn check(&self, item: usize) -> Result<(), InvalidRequest> {
        if self.upload_token.expose().is_empty() {
            return Err(InvalidRequest::EmptyUploadToken { item });
        }
        if let Some(name) = &self.file_name {
            let chars = name.chars().count();
            if chars > MAX_FILE_NAME_CHARS {
                return Err(InvalidRequest::FileNameTooLong { item, chars });
            }
        }
        if let Some(description) = &self.description {
            let chars = description.chars().count();
            if chars >= MAX_DESCRIPTION_CHARS {
                return Err(InvalidRequest::DescriptionTooLong { item, chars });
            }
        }
        Ok(())
    }

    fn to_json(&self) -> Value {
        let mut simple = Map::new();
        simple.insert("uploadToken".into(), self.upload_token.expose().into());
        if let Some(name) = self.file_name.as_deref().filter(|n| !n.is_empty()) {
            simple.insert("fileName".into(), name.into());
        }
        let mut item = Map::new();
        if let Some(text) = self.description.as_deref().filter(|d| !d.is_empty()) {
            item.insert("description".into(), text.into());
        }
        item.insert("simpleMediaItem".into(), Value::Object(simple));
        Value::Object(item)
    }
}

/// Where in an album new items go (Google's `AlbumPosition`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum AlbumPosition {
    /// At the start of the album.
    FirstInAlbum,
    /// At the end of the album (Google's default).
    LastInAlbum,
    /// After this media item of the album.
    AfterMediaItem(String),
    /// After this enrichment item (text, map or location) of the album.
    AfterEnrichmentItem(String),
}

impl AlbumPosition {
    fn check(&self) -> Result<(), InvalidRequest> {
        match self {
            Self::FirstInAlbum | Self::LastInAlbum => Ok(()),
            Self::AfterMediaItem(id) => wire::check_id(id, IdKind::RelativeMediaItem, None),
            Self::AfterEnrichmentItem(id) => {
                wire::check_id(id, IdKind::RelativeEnrichmentItem, None)
            }
        }
    }

    /// Google's JSON for the position.
    ///
    /// ```
    /// use gphotos_upload::library::AlbumPosition;
    ///
    /// assert_eq!(
    ///     AlbumPosition::AfterMediaItem("AF1".into()).to_json(),
    ///     serde_json::json!({"position": "AFTER_MEDIA_ITEM", "relativeMediaItemId": "AF1"})
    /// );
    /// ```
    pub fn to_json(&self) -> Value {
        match self {
            Self::FirstInAlbum => json!({"position": "FIRST_IN_ALBUM"}),
            Self::LastInAlbum => json!({"position": "LAST_IN_ALBUM"}),
            Self::AfterMediaItem(id) => {
                json!({"position": "AFTER_MEDIA_ITEM", "relativeMediaItemId": id})
            }
            Self::AfterEnrichmentItem(id) => {
                json!({"position": "AFTER_ENRICHMENT_ITEM", "relativeEnrichmentItemId": id})
            }
        }
    }
}

/// Where new items go: the library only (the default), or also an album the app created.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Destination {
    /// The album to add the items to.
    pub album_id: Option<String>,
    /// Where in the album; needs `album_id`.
    pub position: Option<AlbumPosition>,
}

impl Destination {
    /// The library only.
    pub fn library() -> Self {
        Self::default()
    }

    /// The library and the end of album `album_id`.
    pub fn album(album_id: impl Into<String>) -> Self {
        Self {
            album_id: Some(album_id.into()),
            position: None,
        }
    }

    fn check(&self) -> Result<(), InvalidRequest> {
        match (&self.album_id, &self.position) {
            (None, Some(_)) => Err(InvalidRequest::PositionWithoutAlbum),
            (Some(id), position) => {
                wire::check_id(id, IdKind::Album, None)?;
                position.as_ref().map_or(Ok(()), AlbumPosition::check)
            }
            (None, None) => Ok(()),
        }
    }
}

/// One `mediaItems:batchCreate` call: 1 to [`MAX_BATCH`] validated items and their destination.
///
/// Run it with [`super::Call`]; it yields a [`BatchCreated`] with one outcome per item. It is not
/// safe to repeat blindly ([`Resend::OnlyIfUnprocessed`]): when the call ends
/// [`super::CallAction::Ambiguous`], re-send it as [`BatchCreate::after_ambiguous`].
///
/// A whole-call refusal such as 400 "Request must contain a valid upload token" (an expired or
/// unknown token somewhere in the call) ends in [`super::LibraryError::Rejected`]; sending the
/// items in smaller calls finds the culprit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchCreate {
    items: Vec<NewMediaItem>,
    destination: Destination,
    after_ambiguous: bool,
}

impl BatchCreate {
    /// One call of `items` (1 to [`MAX_BATCH`]).
    ///
    /// # Errors
    /// [`InvalidRequest`] when there are no items or too many, a token is empty or repeated, a
    /// file name or description is too long, or the destination is invalid.
    pub fn new(
        items: Vec<NewMediaItem>,
        destination: &Destination,
    ) -> Result<Self, InvalidRequest> {
        if items.is_empty() {
            return Err(InvalidRequest::EmptyBatch);
        }
        if items.len() > MAX_BATCH {
            return Err(InvalidRequest::TooManyItems {
                count: items.len(),
                max: MAX_BATCH,
            });
        }
        destination.check()?;
        check_items(&items)?;
        Ok(Self {
            items,
            destination: destination.clone(),
            after_ambiguous: false,
        })
    }

    /// Splits any number of items into calls of at most [`MAX_BATCH`], in order: 0 items make no
    /// call, 51 make a call of 50 and a call of 1. Every item is validated first, and an error
    /// names the item by its place in `items`.
    ///
    /// Each call is placed in the album independently: with [`AlbumPosition::FirstInAlbum`] or an
    /// `After…` position, a later call lands before the items of an earlier one. To keep the order,
    /// give each later call the position after the last item the previous call created.
    ///
    /// ```
    /// use gphotos_upload::UploadToken;
    /// use gphotos_upload::library::{BatchCreate, Destination, NewMediaItem};
    ///
    /// let items: Vec<_> = (0..51).map(|i| NewMediaItem::new(UploadToken::new(format!("t{i}")))).collect();
    /// let calls = BatchCreate::split(items, &Destination::library())?;
    /// assert_eq!(calls.iter().map(|c| c.items().len()).collect::<Vec<_>>(), [50, 1]);
    /// # Ok::<(), gphotos_upload::library::InvalidRequest>(())
    /// ```
    ///
    /// # Errors
    /// [`InvalidRequest`] as for [`BatchCreate::new`] (except for the count).
    pub fn split(
        items: Vec<NewMediaItem>,
        destination: &Destination,
    ) -> Result<Vec<Self>, InvalidRequest> {
        destination.check()?;
        check_items(&items)?;
        let mut calls = Vec::with_capacity(items.len().div_ceil(MAX_BATCH));
        let mut items = items.into_iter().peekable();
        while items.peek().is_some() {
            calls.push(Self {
                items: items.by_ref().take(MAX_BATCH).collect(),
                destination: destination.clone(),
                after_ambiguous: false,
            });
        }
        Ok(calls)
    }

    /// The same call, marked as a re-send after an ambiguous outcome of it (or of an earlier call
    /// with these tokens, including items that came back [`ItemOutcome::NoResult`]).
    ///
    /// Upload tokens are single-use, so the re-send cannot create an item twice: an item the
    /// ambiguous call did not create is created now, and the token of one it did create is refused.
    /// A refused token (an item failure that is not transient, or a whole-call 400 about upload
    /// tokens) then comes back as [`ItemOutcome::Unconfirmed`] with
    /// [`Unconfirmed::TokenSpent`]: the item most likely exists, its id is unknown.
    ///
    /// Re-send promptly: a token that has passed its one-day life is refused too, and then the
    /// refusal no longer tells a spent token from an expired one.
    #[must_use]
    pub fn after_ambiguous(mut self) -> Self {
        self.after_ambiguous = true;
        self
    }

    /// Whether this call re-sends an ambiguous one.
    pub fn is_after_ambiguous(&self) -> bool {
        self.after_ambiguous
    }

    /// The items, in the order their outcomes are reported.
    pub fn items(&self) -> &[NewMediaItem] {
        &self.items
    }

    /// Where the items go.
    pub fn destination(&self) -> &Destination {
        &self.destination
    }

    /// The JSON body of the call.
    fn to_json(&self) -> Value {
        let mut body = Map::new();
        if let Some(album_id) = &self.destination.album_id {
            body.insert("albumId".into(), album_id.as_str().into());
            if let Some(position) = &self.destination.position {
                body.insert("albumPosition".into(), position.to_json());
            }
        }
        let items = self.items.iter().map(NewMediaItem::to_json).collect();
        body.insert("newMediaItems".into(), Value::Array(items));
        Value::Object(body)
    }

    /// Reads a 2xx reply: each item's outcome, matched by upload token.
    ///
    /// # Errors
    /// A description when the body is not a JSON object or `newMediaItemResults` is not a list.
    pub fn parse(&self, body: &[u8]) -> Result<BatchCreated, String> {
        let reply = wire::json_object(body)?;
        let results: &[Value] = match reply.get("newMediaItemResults") {
            None | Some(Value::Null) => &[],
            Some(Value::Array(results)) => results,
            Some(_) => return Err("newMediaItemResults is not a list".into()),
        };
        let mut place = HashMap::with_capacity(self.items.len());
        for (index, item) in self.items.iter().enumerate() {
            place.insert(item.upload_token.expose(), index);
        }
        let mut outcomes: Vec<Option<ItemOutcome>> = vec![None; self.items.len()];
        let mut created = BatchCreated::default();
        for result in results {
            let Some(result) = result.as_object() else {
                created.unreadable_results += 1;
                continue;
            };
            let Some(token) = result.get("uploadToken").and_then(Value::as_str) else {
                created.unreadable_results += 1;
                continue;
            };
            let Some(&index) = place.get(token) else {
                created.unknown_results += 1;
                continue;
            };
            let outcome = self.outcome(result);
            match &outcomes[index] {
                None => outcomes[index] = Some(outcome),
                Some(earlier) => {
                    created.duplicate_results += 1;
                    // A success is evidence that the item exists, whatever else was said.
                    if !earlier.is_created() && outcome.is_created() {
                        outcomes[index] = Some(outcome);
                    }
                }
            }
        }
        created.items = self
            .items
            .iter()
            .zip(outcomes)
            .map(|(item, outcome)| ItemResult {
                upload_token: item.upload_token.clone(),
                outcome: outcome.unwrap_or(ItemOutcome::NoResult),
            })
            .collect();
        Ok(created)
    }

    /// One result's outcome: a success needs a zero or absent code and a media item with an id.
    fn outcome(&self, result: &Map<String, Value>) -> ItemOutcome {
        let (code, message) = match result.get("status") {
            None | Some(Value::Null) => (0, String::new()),
            Some(Value::Object(status)) => (
                status.get("code").map_or(0, rpc_code),
                self.scrub(wire::text(status, "message").unwrap_or_default()),
            ),
            Some(_) => (UNKNOWN_CODE, "unreadable status".to_owned()),
        };
        if code == 0 {
            return match result.get("mediaItem").and_then(MediaItem::from_json) {
                Some(item) => ItemOutcome::Created(item),
                None => ItemOutcome::Unconfirmed(Unconfirmed::SuccessWithoutMediaItem { message }),
            };
        }
        let failure = ItemFailure { code, message };
        if self.after_ambiguous && !failure.is_transient() {
            ItemOutcome::Unconfirmed(Unconfirmed::TokenSpent(failure))
        } else {
            ItemOutcome::Failed(failure)
        }
    }

    fn scrub(&self, mut text: String) -> String {
        for item in &self.items {
            let token = item.upload_token.expose();
            if !token.is_empty() && text.contains(token) {
                text = text.replace(token, TOKEN_PLACEHOLDER);
            }
        }
        text
    }
}

/// Google's `UNKNOWN` status code, for a code that cannot be read.
const UNKNOWN_CODE: i32 = 2;

fn rpc_code(value: &Value) -> i32 {
    let code = match value {
        Value::Null => Some(0),
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    };
    code.and_then(|c| i32::try_from(c).ok())
        .unwrap_or(UNKNOWN_CODE)
}

fn check_items(items: &[NewMediaItem]) -> Result<(), InvalidRequest> {
    let mut seen = HashMap::with_capacity(items.len());
    for (item, new) in items.iter().enumerate() {
        new.check(item)?;
        if let Some(first) = seen.insert(new.upload_token.expose(), item) {
            return Err(InvalidRequest::DuplicateUploadToken { item, first });
        }
    }
    Ok(())
}

impl LibraryRequest for BatchCreate {
    type Output = BatchCreated;

    fn resend(&self) -> Resend {
        Resend::OnlyIfUnprocessed
    }

    fn to_request(&self, endpoint: &Endpoint) -> Request<Payload> {
        wire::post_json(endpoint.join("mediaItems:batchCreate"), &self.to_json())
    }

    fn parse_reply(&self, _status: StatusCode, body: &[u8]) -> Result<BatchCreated, String> {
        self.parse(body)
    }

    fn parse_refusal(&self, status: StatusCode, message: &str) -> Option<BatchCreated> {
        let about_tokens = message.to_ascii_lowercase().contains("upload token");
        if !(self.after_ambiguous && status == StatusCode::BAD_REQUEST && about_tokens) {
            return None;
        }
        // The re-send was refused because its tokens were spent: by the ambiguous call.
        let failure = ItemFailure {
            code: 3,
            message: message.to_owned(),
        };
        Some(BatchCreated {
            items: self
                .items
                .iter()
                .map(|item| ItemResult {
                    upload_token: item.upload_token.clone(),
                    outcome: ItemOutcome::Unconfirmed(Unconfirmed::TokenSpent(failure.clone())),
                })
                .collect(),
            ..BatchCreated::default()
        })
    }

    fn scrub(&self, text: String) -> String {
        BatchCreate::scrub(self, text)
    }
}

/// The outcome of a `batchCreate` call, item by item.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchCreated {
    /// One result per item sent, in the order of [`BatchCreate::items`].
    pub items: Vec<ItemResult>,
    /// Results for upload tokens this call did not send (ignored).
    pub unknown_results: usize,
    /// Further results for a token that already had one (the first success, else the first
    /// result, counts).
    pub duplicate_results: usize,
    /// Results that were not objects or had no upload token (ignored).
    pub unreadable_results: usize,
}

impl BatchCreated {
    /// The media items created, with the tokens that created them.
    pub fn created(&self) -> impl Iterator<Item = (&UploadToken, &MediaItem)> {
        self.items.iter().filter_map(|r| match &r.outcome {
            ItemOutcome::Created(item) => Some((&r.upload_token, item)),
            _ => None,
        })
    }

    /// Whether every item was created.
    pub fn all_created(&self) -> bool {
        self.items.iter().all(|r| r.outcome.is_created())
    }
}

/// One item's outcome, with the token it was sent with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ItemResult {
    /// The item's upload token (redacted in `Debug`).
    pub upload_token: UploadToken,
    /// What became of it.
    pub outcome: ItemOutcome,
}

/// What became of one item of a `batchCreate` call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ItemOutcome {
    /// Created: the status code was absent or 0 and the reply held the media item.
    Created(MediaItem),
    /// Not created; Google's code and message say why. See [`ItemFailure::is_transient`].
    Failed(ItemFailure),
    /// Most likely created, but no media item id is known. Do not upload the file again (it would
    /// make a duplicate) and do not treat it as safely stored either (do not delete the original)
    /// before checking the library.
    Unconfirmed(Unconfirmed),
    /// The reply held no result for this item's token: whether it was created is unknown. Its token
    /// may be re-sent safely (it is single-use, so no duplicate can come of it); re-send it with
    /// [`BatchCreate::after_ambiguous`] so that a refusal reads as [`ItemOutcome::Unconfirmed`].
    NoResult,
}

impl ItemOutcome {
    /// Whether the item was created.
    pub fn is_created(&self) -> bool {
        matches!(self, Self::Created(_))
    }
}

/// Why an item is [`ItemOutcome::Unconfirmed`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Unconfirmed {
    /// The status reported success but the reply held no media item (or one without an id).
    SuccessWithoutMediaItem {
        /// The status message, if any.
        message: String,
    },
    /// On a re-send after an ambiguous call ([`BatchCreate::after_ambiguous`]), the token was
    /// refused: the ambiguous call most likely consumed it and created the item.
    TokenSpent(ItemFailure),
}

/// Google's reason for an item's failure: a `google.rpc.Code` and a message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ItemFailure {
    /// The `google.rpc.Code` (3 `INVALID_ARGUMENT`, 6 `ALREADY_EXISTS`, 13 `INTERNAL`...).
    pub code: i32,
    /// Google's message, such as "`NOT_IMAGE`: There was an error while trying to create this media
    /// item." (any upload token in it is replaced by a placeholder).
    pub message: String,
}

impl ItemFailure {
    /// Whether the code names a passing condition (`DEADLINE_EXCEEDED`, `RESOURCE_EXHAUSTED`,
    /// `ABORTED`, `INTERNAL`, `UNAVAILABLE`), so the item may succeed when sent again (with the
    /// same token while it is under a day old, else after a new upload). Other failures are about
    /// the media or the token and repeat.
    pub fn is_transient(&self) -> bool {
        matches!(self.code, 4 | 8 | 10 | 13 | 14)
    }
}

impl fmt::Display for ItemFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Google Photos refused the item (code {})", self.code)?;
        if !self.message.is_empty() {
            write!(f, ": {}", self.message)?;
        }
        Ok(())
    }
}
