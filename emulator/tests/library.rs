//! The Library calls: batchCreate per-item statuses, get, albums, and bearer-token checks.

mod common;

use common::*;
use gphotos_emulator::{Config, Emulator};
use serde_json::json;

#[test]
fn batch_create_reports_each_item() {
    let emu = small(4);
    let mut c = Client::connect(emu.addr());
    let token = upload(&mut c, b"pixels", "cam.jpg");
    let reply = batch_create(
        &mut c,
        &json!({"newMediaItems": [
            {"description": "a cat", "simpleMediaItem": {"uploadToken": token, "fileName": "cat.jpg"}},
            {"simpleMediaItem": {"uploadToken": "no-such-token"}},
            {"simpleMediaItem": {"uploadToken": token}},
        ]}),
    );
    assert_eq!(reply.status, 200, "partial failure is still HTTP 200");
    let results = reply.json()["newMediaItemResults"].clone();
    assert_eq!(results.as_array().unwrap().len(), 3);
    assert_eq!(results[0]["uploadToken"], token.as_str());
    assert_eq!(results[0]["status"], json!({"message": "Success"}));
    assert!(results[0]["status"].get("code").is_none());
    let item = &results[0]["mediaItem"];
    assert_eq!(item["filename"], "cat.jpg");
    assert_eq!(item["description"], "a cat");
    assert_eq!(item["mimeType"], "image/jpeg");
    assert!(
        item["productUrl"]
            .as_str()
            .unwrap()
            .starts_with("http://127.0.0.1:")
    );
    assert_eq!(results[1]["status"]["code"], 3);
    assert!(results[1].get("mediaItem").is_none());
    assert_eq!(results[2]["status"]["code"], 3, "token reuse fails");

    let id = item["id"].as_str().unwrap();
    let reply = c.send("GET", &format!("/v1/mediaItems/{id}"), &[AUTH], b"");
    assert_eq!(reply.status, 200);
    assert_eq!(reply.json()["id"], id);
    let reply = c.send("GET", "/v1/mediaItems/unknown", &[AUTH], b"");
    assert_eq!(reply.status, 404);
    assert_eq!(reply.json()["error"]["status"], "NOT_FOUND");

    let state = emu.inspect();
    assert_eq!(state.media_items.len(), 1);
    assert_eq!(state.media_items[0].filename, "cat.jpg");
    assert_eq!(state.media_items[0].description.as_deref(), Some("a cat"));
    assert_eq!(state.media_items[0].sha256, sha256_hex(b"pixels"));
}

#[test]
fn batch_create_request_rules() {
    let emu = small(4);
    let mut c = Client::connect(emu.addr());
    let items: Vec<_> = (0..51)
        .map(|i| json!({"simpleMediaItem": {"uploadToken": format!("t{i}")}}))
        .collect();
    let reply = batch_create(&mut c, &json!({ "newMediaItems": items }));
    assert_eq!(reply.status, 400);
    assert_eq!(reply.json()["error"]["status"], "INVALID_ARGUMENT");
    assert_eq!(
        batch_create(&mut c, &json!({"newMediaItems": []})).status,
        400
    );
    let reply = c.send("POST", "/v1/mediaItems:batchCreate", &[AUTH], b"{not json");
    assert_eq!(reply.status, 400);
    let token = upload(&mut c, b"x", "x.jpg");
    let reply = batch_create(
        &mut c,
        &json!({"albumId": "nope", "newMediaItems": [{"simpleMediaItem": {"uploadToken": token}}]}),
    );
    assert_eq!(reply.status, 400, "unknown album fails the whole call");
    let long = "n".repeat(256);
    let reply = batch_create(
        &mut c,
        &json!({"newMediaItems": [
            {"simpleMediaItem": {"uploadToken": token, "fileName": long}},
            {"description": "d".repeat(1000), "simpleMediaItem": {"uploadToken": token}},
        ]}),
    );
    let results = reply.json()["newMediaItemResults"].clone();
    assert_eq!(results[0]["status"]["code"], 3);
    assert_eq!(results[1]["status"]["code"], 3);
    assert!(emu.inspect().media_items.is_empty(), "nothing was created");
}

#[test]
fn albums_create_add_and_position() {
    let emu = small(4);
    let mut c = Client::connect(emu.addr());
    let reply = c.send(
        "POST",
        "/v1/albums",
        &[AUTH],
        br#"{"album":{"title":"Trip"}}"#,
    );
    assert_eq!(reply.status, 200, "{}", reply.text());
    let album = reply.json()["id"].as_str().unwrap().to_owned();
    assert_eq!(reply.json()["title"], "Trip");

    let first = upload(&mut c, b"1", "1.jpg");
    let second = upload(&mut c, b"2", "2.jpg");
    let reply = batch_create(
        &mut c,
        &json!({"albumId": album, "newMediaItems": [{"simpleMediaItem": {"uploadToken": first}}]}),
    );
    let one = reply.json()["newMediaItemResults"][0]["mediaItem"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let reply = batch_create(
        &mut c,
        &json!({"albumId": album, "albumPosition": {"position": "FIRST_IN_ALBUM"},
                "newMediaItems": [{"simpleMediaItem": {"uploadToken": second}}]}),
    );
    let two = reply.json()["newMediaItemResults"][0]["mediaItem"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let state = emu.inspect();
    assert_eq!(state.albums[0].media_item_ids, [two.clone(), one.clone()]);
    assert_eq!(state.media_items[0].album_ids, std::slice::from_ref(&album));

    // batchAddMediaItems is all-or-nothing.
    let path = format!("/v1/albums/{album}:batchAddMediaItems");
    let reply = c.send(
        "POST",
        "/v1/albums",
        &[AUTH],
        br#"{"album":{"title":"Other"}}"#,
    );
    let other = reply.json()["id"].as_str().unwrap().to_owned();
    let other_path = format!("/v1/albums/{other}:batchAddMediaItems");
    let body = json!({"mediaItemIds": [one, "missing"]}).to_string();
    assert_eq!(
        c.send("POST", &other_path, &[AUTH], body.as_bytes()).status,
        400
    );
    assert!(emu.inspect().albums[1].media_item_ids.is_empty());
    let body = json!({"mediaItemIds": [one, two]}).to_string();
    assert_eq!(
        c.send("POST", &other_path, &[AUTH], body.as_bytes()).status,
        200
    );
    assert_eq!(emu.inspect().albums[1].media_item_ids.len(), 2);
    let ids: Vec<String> = (0..51).map(|i| format!("id{i}")).collect();
    let body = json!({ "mediaItemIds": ids }).to_string();
    assert_eq!(c.send("POST", &path, &[AUTH], body.as_bytes()).status, 400);
    let reply = c.send(
        "POST",
        "/v1/albums/nope:batchAddMediaItems",
        &[AUTH],
        br#"{"mediaItemIds":["a"]}"#,
    );
    assert_eq!(reply.status, 404);
}

#[test]
fn bearer_token_is_required() {
    let emu = Emulator::start(Config {
        access_token: Some("only-this".into()),
        ..Config::default()
    })
    .unwrap();
    let mut c = Client::connect(emu.addr());
    for auth in [
        None,
        Some("Bearer "),
        Some("Basic abc"),
        Some("Bearer wrong"),
    ] {
        let headers: Vec<(&str, &str)> = auth.map(|a| ("Authorization", a)).into_iter().collect();
        let reply = c.send(
            "POST",
            "/v1/albums",
            &headers,
            br#"{"album":{"title":"x"}}"#,
        );
        assert_eq!(reply.status, 401, "{auth:?}");
        let error = &reply.json()["error"];
        assert_eq!(error["code"], 401);
        assert_eq!(error["status"], "UNAUTHENTICATED");
        assert!(error["message"].is_string());
    }
    let reply = c.send(
        "POST",
        "/v1/albums",
        &[("Authorization", "Bearer only-this")],
        br#"{"album":{"title":"x"}}"#,
    );
    assert_eq!(reply.status, 200);
    let reply = c.send("GET", "/v1/mediaItems/x", &[], b"");
    assert_eq!(reply.status, 401);
    let state = emu.inspect();
    assert!(
        state
            .requests
            .iter()
            .any(|r| !r.authorization && r.status == Some(401))
    );
    assert!(state.requests.iter().all(|r| r.path.starts_with("/v1/")));
}

#[test]
fn unknown_routes_and_methods() {
    let emu = small(4);
    let mut c = Client::connect(emu.addr());
    assert_eq!(c.send("GET", "/v2/nothing", &[AUTH], b"").status, 404);
    let reply = c.send("GET", "/v1/mediaItems:batchCreate", &[AUTH], b"");
    assert_eq!(reply.status, 405);
    assert_eq!(reply.header("allow"), Some("POST"));
}
