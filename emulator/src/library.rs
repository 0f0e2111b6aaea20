//! The Library API calls: mediaItems.batchCreate, mediaItems.get, albums.create and
//! albums.batchAddMediaItems.
//!
//! An unknown `albumId` in batchCreate fails the whole call with 400 `INVALID_ARGUMENT` and creates
//! nothing, as does a malformed request; per-item problems (unknown, used or expired upload token,
//! file name too long, description too long) fail only that item, with HTTP 200.

use std::time::{SystemTime, UNIX_EPOCH};

use serde::Deserialize;
use serde_json::{Value, json};

use crate::random::secret_hex;
use crate::response::Response;
use crate::state::{Album, MAX_RECORDS, MediaItem, Shared, State};

/// Most items in one batchCreate or batchAddMediaItems.
const MAX_BATCH: usize = 50;
const MAX_FILE_NAME: usize = 255;
const MAX_DESCRIPTION: usize = 1000;
const MAX_TITLE: usize = 500;

fn invalid(message: impl Into<String>) -> Response {
    Response::google_error(400, message)
}

fn parse<T: for<'de> Deserialize<'de>>(body: &[u8]) -> Result<T, Response> {
    serde_json::from_slice(body)
        .map_err(|error| invalid(format!("Invalid JSON payload received. {error}")))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct BatchCreate {
    album_id: Option<String>,
    album_position: Option<AlbumPosition>,
    #[serde(default)]
    new_media_items: Vec<NewMediaItem>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AlbumPosition {
    position: String,
    relative_media_item_id: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct NewMediaItem {
    description: Option<String>,
    simple_media_item: Option<SimpleMediaItem>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct SimpleMediaItem {
    upload_token: Option<String>,
    file_name: Option<String>,
}

/// Where new items go in the album's order.
fn insertion_point(
    state: &State,
    album: usize,
    position: Option<&AlbumPosition>,
) -> Result<usize, Response> {
    let items = &state.albums[album].items;
    let Some(position) = position else {
        return Ok(items.len());
    };
    match position.position.as_str() {
        "LAST_IN_ALBUM" | "POSITION_TYPE_UNSPECIFIED" => Ok(items.len()),
        "FIRST_IN_ALBUM" => Ok(0),
        "AFTER_MEDIA_ITEM" => {
            let Some(relative) = &position.relative_media_item_id else {
                return Err(invalid("AFTER_MEDIA_ITEM needs relativeMediaItemId."));
            };
            items
                .iter()
                .position(|id| id == relative)
                .map(|index| index + 1)
                .ok_or_else(|| invalid("relativeMediaItemId is not in the album."))
        }
        "AFTER_ENRICHMENT_ITEM" => Err(invalid(
            "The emulator has no enrichments: AFTER_ENRICHMENT_ITEM cannot be satisfied.",
        )),
        other => Err(invalid(format!(
            "Unknown albumPosition.position `{other}`."
        ))),
    }
}

/// `POST /v1/mediaItems:batchCreate`.
pub(crate) fn batch_create(shared: &Shared, body: &[u8]) -> Response {
    let request: BatchCreate = match parse(body) {
        Ok(request) => request,
        Err(response) => return response,
    };
    if request.new_media_items.is_empty() {
        return invalid("Request must contain at least one newMediaItem.");
    }
    if request.new_media_items.len() > MAX_BATCH {
        return invalid(format!(
            "Request must have at most {MAX_BATCH} newMediaItems; it has {}.",
            request.new_media_items.len()
        ));
    }
    if request.album_position.is_some() && request.album_id.is_none() {
        return invalid("albumPosition needs albumId.");
    }
    let mut guard = shared.state();
    let state = &mut *guard;
    let album = match &request.album_id {
        None => None,
        Some(id) => match state.album_index.get(id) {
            Some(&index) => Some(index),
            None => {
                return invalid(format!(
                    "Invalid album id `{id}`: no such album created by this app."
                ));
            }
        },
    };
    let mut insert_at = match album {
        Some(index) => match insertion_point(state, index, request.album_position.as_ref()) {
            Ok(at) => Some(at),
            Err(response) => return response,
        },
        None => None,
    };
    if state.media_items.len() + request.new_media_items.len() > MAX_RECORDS {
        return Response::google_error(503, "too many media items");
    }
    let results: Vec<Value> = request
        .new_media_items
        .iter()
        .map(|item| create_one(shared, state, item, album.zip(insert_at.as_mut())))
        .collect();
    Response::json(200, &json!({"newMediaItemResults": results}))
}

/// One item of a batchCreate: its result, success or per-item failure. `album` is the album index
/// and the insertion point, which moves on after each insertion.
fn create_one(
    shared: &Shared,
    state: &mut State,
    item: &NewMediaItem,
    album: Option<(usize, &mut usize)>,
) -> Value {
    let token = item
        .simple_media_item
        .as_ref()
        .and_then(|s| s.upload_token.clone())
        .unwrap_or_default();
    let failure =
        |message: &str| json!({"uploadToken": token, "status": {"code": 3, "message": message}});
    let Some(simple) = &item.simple_media_item else {
        return failure("Failed: simpleMediaItem is required.");
    };
    let object = match state.upload_tokens.get(&token) {
        None => return failure("Failed: upload token not found."),
        Some(t) if t.used => return failure("Failed: upload token already used."),
        Some(t) if t.issued.elapsed() >= shared.config.upload_token_lifetime => {
            return failure("Failed: upload token expired.");
        }
        Some(t) => t.object,
    };
    if simple
        .file_name
        .as_ref()
        .is_some_and(|n| n.chars().count() > MAX_FILE_NAME)
    {
        return failure("Failed: fileName is longer than 255 characters.");
    }
    if item
        .description
        .as_ref()
        .is_some_and(|d| d.chars().count() >= MAX_DESCRIPTION)
    {
        return failure("Failed: description must be shorter than 1000 characters.");
    }
    if let Some(t) = state.upload_tokens.get_mut(&token) {
        t.used = true;
    }
    let filename = simple
        .file_name
        .clone()
        .or_else(|| state.objects[object].file_name.clone())
        .unwrap_or_else(|| "untitled".into());
    let mut media = MediaItem {
        id: format!("AM{}", secret_hex(20)),
        object,
        filename,
        description: item.description.clone(),
        mime_type: state.objects[object].content_type.clone(),
        albums: Vec::new(),
        created: SystemTime::now(),
    };
    if let Some((album, at)) = album {
        state.albums[album].items.insert(*at, media.id.clone());
        *at += 1;
        media.albums.push(state.albums[album].id.clone());
    }
    let reply = json!({
        "uploadToken": token,
        "status": {"message": "Success"},
        "mediaItem": media_json(shared, &media),
    });
    state
        .media_index
        .insert(media.id.clone(), state.media_items.len());
    state.media_items.push(media);
    reply
}

fn rfc3339(time: SystemTime) -> String {
    let secs = time.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let days = secs / 86_400;
    let rem = secs % 86_400;
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = i64::try_from(days).unwrap_or(0) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

fn media_json(shared: &Shared, item: &MediaItem) -> Value {
    let mut value = json!({
        "id": item.id,
        "productUrl": format!("{}/lr/photo/{}", shared.origin, item.id),
        "baseUrl": format!("{}/lr/base/{}", shared.origin, item.id),
        "mimeType": item.mime_type,
        "filename": item.filename,
        "mediaMetadata": {"creationTime": rfc3339(item.created)},
    });
    if let Some(description) = &item.description {
        value["description"] = json!(description);
    }
    value
}

/// `GET /v1/mediaItems/{id}`.
pub(crate) fn get_media_item(shared: &Shared, id: &str) -> Response {
    let state = shared.state();
    match state.media_index.get(id) {
        Some(&index) => Response::json(200, &media_json(shared, &state.media_items[index])),
        None => Response::google_error(
            404,
            format!("Requested entity was not found: media item `{id}`."),
        ),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateAlbum {
    album: NewAlbum,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewAlbum {
    title: Option<String>,
}

fn album_json(shared: &Shared, album: &Album) -> Value {
    json!({
        "id": album.id,
        "title": album.title,
        "productUrl": format!("{}/lr/album/{}", shared.origin, album.id),
        "isWriteable": true,
        "mediaItemsCount": album.items.len().to_string(),
    })
}

/// `POST /v1/albums`.
pub(crate) fn create_album(shared: &Shared, body: &[u8]) -> Response {
    let request: CreateAlbum = match parse(body) {
        Ok(request) => request,
        Err(response) => return response,
    };
    let title = request.album.title.unwrap_or_default();
    if title.chars().count() > MAX_TITLE {
        return invalid("The album title must be at most 500 characters.");
    }
    let mut guard = shared.state();
    let state = &mut *guard;
    if state.albums.len() >= MAX_RECORDS {
        return Response::google_error(503, "too many albums");
    }
    let album = Album {
        id: format!("AL{}", secret_hex(20)),
        title,
        items: Vec::new(),
    };
    let reply = album_json(shared, &album);
    state
        .album_index
        .insert(album.id.clone(), state.albums.len());
    state.albums.push(album);
    Response::json(200, &reply)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct BatchAdd {
    #[serde(default)]
    media_item_ids: Vec<String>,
}

/// `POST /v1/albums/{id}:batchAddMediaItems`: all items or none.
pub(crate) fn batch_add(shared: &Shared, album_id: &str, body: &[u8]) -> Response {
    let request: BatchAdd = match parse(body) {
        Ok(request) => request,
        Err(response) => return response,
    };
    if request.media_item_ids.is_empty() {
        return invalid("Request must contain at least one mediaItemId.");
    }
    if request.media_item_ids.len() > MAX_BATCH {
        return invalid(format!(
            "Request must have at most {MAX_BATCH} mediaItemIds."
        ));
    }
    let mut guard = shared.state();
    let state = &mut *guard;
    let Some(&album) = state.album_index.get(album_id) else {
        return Response::google_error(
            404,
            format!("Requested entity was not found: album `{album_id}`."),
        );
    };
    if let Some(unknown) = request
        .media_item_ids
        .iter()
        .find(|id| !state.media_index.contains_key(*id))
    {
        return invalid(format!(
            "Invalid media item id `{unknown}`: nothing was added."
        ));
    }
    for id in &request.media_item_ids {
        if state.albums[album].items.contains(id) {
            continue;
        }
        state.albums[album].items.push(id.clone());
        let index = state.media_index[id];
        state.media_items[index].albums.push(album_id.to_owned());
    }
    Response::json(200, &json!({}))
}

#[cfg(test)]
mod tests {
    use super::rfc3339;
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn civil_dates() {
        assert_eq!(rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00Z");
        assert_eq!(
            rfc3339(UNIX_EPOCH + Duration::from_secs(1_709_210_096)),
            "2024-02-29T12:34:56Z"
        );
    }
}
