//! Happy paths of `gphotos-upload upload` with the real binary against the emulator: one file, 60
//! files, a directory tree, an album created once across reruns, the `--json` shape and the exit
//! codes 0, 1 and 2.

mod support;

use std::collections::HashMap;

use gphotos_emulator::{Config, Emulator, Inspection};
use support::{
    assert_exit, command, finish, json_lines, sha256_hex, show, tempdir, upload_command,
    write_media,
};

/// 64 KiB granules keep multi-chunk files small.
fn emulator() -> Emulator {
    Emulator::start(Config {
        granularity: 64 * 1024,
        ..Config::default()
    })
    .unwrap()
}

/// The stored SHA-256 of every media item, by id.
fn stored(state: &Inspection) -> HashMap<String, String> {
    state
        .media_items
        .iter()
        .map(|m| (m.id.clone(), m.sha256.clone()))
        .collect()
}

#[test]
fn one_file_in_several_chunks_then_a_rerun_sends_nothing() {
    let emu = emulator();
    let home = tempdir();
    let photo = home.path().join("photo.jpg");
    let bytes = write_media(&photo, 700_000, 1);
    let output = finish(
        upload_command(home.path(), &emu)
            .args(["--chunk-size", "128K"])
            .arg(&photo),
    );
    assert_exit(&output, 0);
    let lines = json_lines(&output);
    assert_eq!(lines.len(), 1, "{}", show(&output));
    assert_eq!(lines[0]["status"], "created");
    assert_eq!(lines[0]["path"], photo.display().to_string());
    assert!(lines[0].get("error").is_none());
    let id = lines[0]["media_item_id"].as_str().unwrap().to_owned();
    let state = emu.inspect();
    assert_eq!(state.media_items.len(), 1);
    assert_eq!(stored(&state)[&id], sha256_hex(&bytes));
    assert_eq!(state.sessions.len(), 1, "a resumable session");
    assert_eq!(state.sessions[0].bytes_seen, 700_000, "nothing sent twice");
    assert_eq!(state.media_items[0].filename, "photo.jpg");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("1 created, 0 failed, 0 skipped"),
        "{stderr}"
    );

    // The same command again: the journal says it is done; no request goes out.
    let requests = state.requests.len();
    let again = finish(
        upload_command(home.path(), &emu)
            .args(["--chunk-size", "128K"])
            .arg(&photo),
    );
    assert_exit(&again, 0);
    let lines = json_lines(&again);
    assert_eq!(lines[0]["status"], "created");
    assert_eq!(lines[0]["media_item_id"], id.as_str());
    assert_eq!(emu.inspect().requests.len(), requests);
    assert_eq!(emu.inspect().media_items.len(), 1);
}

#[test]
fn sixty_files_with_concurrency() {
    let emu = emulator();
    let home = tempdir();
    let dir = home.path().join("many");
    let mut sums = HashMap::new();
    for i in 0..60u8 {
        // Every fifth file spans several chunks; the others go as simple uploads.
        let size = if i % 5 == 0 {
            300_000
        } else {
            20_000 + usize::from(i) * 977
        };
        let path = dir.join(format!("img_{i:02}.jpg"));
        let bytes = write_media(&path, size, i);
        sums.insert(path.display().to_string(), sha256_hex(&bytes));
    }
    let output = finish(
        upload_command(home.path(), &emu)
            .args(["--chunk-size", "128K", "--concurrency", "8"])
            .arg(&dir),
    );
    assert_exit(&output, 0);
    let lines = json_lines(&output);
    assert_eq!(lines.len(), 60);
    let state = emu.inspect();
    let stored = stored(&state);
    assert_eq!(state.media_items.len(), 60, "exactly one item per file");
    for line in &lines {
        assert_eq!(line["status"], "created", "{line}");
        let path = line["path"].as_str().unwrap();
        let id = line["media_item_id"].as_str().unwrap();
        assert_eq!(stored[id], sums[path], "{path}");
    }
    let batches = state
        .requests_of(gphotos_emulator::RequestKind::BatchCreate)
        .count();
    assert_eq!(batches, 2, "items are created 50 at a time");
}

#[test]
fn a_directory_tree_with_a_file_that_is_not_media() {
    let emu = emulator();
    let home = tempdir();
    let root = home.path().join("tree");
    write_media(&root.join("2024/spring/a.jpg"), 10_000, 1);
    write_media(&root.join("2024/b.PNG"), 10_000, 2);
    write_media(&root.join("2025/summer/beach/c.mp4"), 200_000, 3);
    std::fs::write(root.join("2024/spring/notes.txt"), b"not media").unwrap();
    let output = finish(
        upload_command(home.path(), &emu)
            .args(["--chunk-size", "64K"])
            .arg(&root),
    );
    assert_exit(&output, 0);
    let lines = json_lines(&output);
    assert_eq!(lines.len(), 4, "{}", show(&output));
    let by_name = |name: &str| {
        lines
            .iter()
            .find(|l| l["path"].as_str().unwrap().ends_with(name))
            .unwrap_or_else(|| panic!("{name} listed"))
            .clone()
    };
    assert_eq!(by_name("notes.txt")["status"], "skipped");
    assert!(
        by_name("notes.txt")["error"]
            .as_str()
            .unwrap()
            .contains(".txt")
    );
    for name in ["a.jpg", "b.PNG", "c.mp4"] {
        assert_eq!(by_name(name)["status"], "created");
    }
    let state = emu.inspect();
    assert_eq!(state.media_items.len(), 3);
    let types: Vec<&str> = state
        .media_items
        .iter()
        .map(|m| m.mime_type.as_str())
        .collect();
    assert!(
        types.contains(&"video/mp4") && types.contains(&"image/png"),
        "{types:?}"
    );
}

#[test]
fn an_album_is_created_once_across_reruns() {
    let emu = emulator();
    let home = tempdir();
    let dir = home.path().join("trip");
    for i in 0..3u8 {
        write_media(&dir.join(format!("p{i}.jpg")), 5_000, i);
    }
    // The first run loses one file to a refused upload.
    emu.inject("raw@2:status=400".parse().unwrap()).unwrap();
    let args = ["--album-title", "Trip 2024", "--description", "by the sea"];
    let first = finish(upload_command(home.path(), &emu).args(args).arg(&dir));
    assert_exit(&first, 1);
    let lines = json_lines(&first);
    assert_eq!(lines.iter().filter(|l| l["status"] == "failed").count(), 1);
    assert!(String::from_utf8_lossy(&first.stderr).contains("rerun the same command"));

    let second = finish(upload_command(home.path(), &emu).args(args).arg(&dir));
    assert_exit(&second, 0);
    let state = emu.inspect();
    assert_eq!(state.albums.len(), 1, "the rerun reuses the album");
    assert_eq!(state.albums[0].title, "Trip 2024");
    assert_eq!(state.media_items.len(), 3, "no duplicates");
    assert_eq!(state.albums[0].media_item_ids.len(), 3);
    assert!(
        state
            .media_items
            .iter()
            .all(|m| m.description.as_deref() == Some("by the sea"))
    );
}

#[test]
fn exit_codes_and_json_for_failures_and_usage_errors() {
    let emu = emulator();
    let home = tempdir();
    let good = home.path().join("good.jpg");
    write_media(&good, 1000, 1);
    let empty = home.path().join("empty.jpg");
    std::fs::write(&empty, b"").unwrap();
    let missing = home.path().join("missing.jpg");

    let output = finish(
        upload_command(home.path(), &emu)
            .arg(&good)
            .arg(&empty)
            .arg(&missing),
    );
    assert_exit(&output, 1);
    let lines = json_lines(&output);
    assert_eq!(
        lines.len(),
        3,
        "one object per input file: {}",
        show(&output)
    );
    for line in &lines {
        let keys: Vec<&str> = line
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert!(
            keys.iter()
                .all(|k| ["path", "status", "media_item_id", "error"].contains(k)),
            "{line}"
        );
        match line["status"].as_str().unwrap() {
            "created" => assert!(line["media_item_id"].is_string() && line.get("error").is_none()),
            "failed" => assert!(line["error"].is_string() && line.get("media_item_id").is_none()),
            other => panic!("unexpected status {other}"),
        }
    }
    let status_of = |name: &str| {
        lines
            .iter()
            .find(|l| l["path"].as_str().unwrap().ends_with(name))
            .map(|l| l["status"].as_str().unwrap().to_owned())
    };
    assert_eq!(status_of("good.jpg").as_deref(), Some("created"));
    assert_eq!(status_of("empty.jpg").as_deref(), Some("failed"));
    assert_eq!(status_of("missing.jpg").as_deref(), Some("failed"));

    // Usage errors: clap's own, and ours.
    for bad in [
        vec!["upload"],
        vec!["upload", "--chunk-size", "lots", "x.jpg"],
        vec!["upload", "--endpoint", "http://example.com/v1/", "x.jpg"],
        vec!["upload", "--album", "a", "--album-title", "b", "x.jpg"],
        vec!["frobnicate"],
    ] {
        let output = finish(
            command(home.path())
                .env("GPHOTOS_ACCESS_TOKEN", "test-access-token")
                .args(&bad),
        );
        assert_exit(&output, 2);
        assert!(!output.stderr.is_empty(), "{bad:?} says why");
    }
    // No credentials at all: a usage error that says what to do.
    let output = finish(
        command(home.path())
            .env("GPHOTOS_ENDPOINT", emu.base_url())
            .args(["upload"])
            .arg(&good),
    );
    assert_exit(&output, 2);
    assert!(String::from_utf8_lossy(&output.stderr).contains("auth login"));
}

#[test]
fn the_demo_works_without_an_account() {
    let home = tempdir();
    let output = finish(command(home.path()).arg("demo"));
    assert_exit(&output, 0);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        stderr.matches("bytes match (SHA-256)").count(),
        4,
        "{stderr}"
    );
    assert!(stderr.contains("Demo passed"), "{stderr}");
}

#[test]
fn verbose_logs_name_uploads_but_no_secret() {
    let emu = emulator();
    let home = tempdir();
    let video = home.path().join("v.mp4");
    write_media(&video, 300_000, 5);
    let output = finish(
        upload_command(home.path(), &emu)
            .args(["-vvv", "--chunk-size", "64K"])
            .arg(&video),
    );
    assert_exit(&output, 0);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let upload_id = &emu.inspect().sessions[0].upload_id;
    assert!(
        stderr.contains(upload_id.as_str()),
        "upload ids are logged: {stderr}"
    );
    // The session is journaled (and logged) once, when it opens, with the file's size.
    assert!(
        stderr.contains("total=300000"),
        "sizes are logged: {stderr}"
    );
    assert!(!stderr.contains("upload_id="), "no session URL: {stderr}");
    assert!(!stderr.contains("Bearer"), "no token: {stderr}");
    // The upload token is in the journal (a secret file), never in the log.
    let journal_dir = home.path().join("state/gphotos-upload/journals");
    let journal = std::fs::read_dir(&journal_dir)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let text = std::fs::read_to_string(&journal).unwrap();
    let record: serde_json::Value = text
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|r| r["record"] == "uploaded")
        .expect("an uploaded record");
    let token = record["token"]
        .as_str()
        .expect("the token is kept for batchCreate");
    assert!(!stderr.contains(token), "no upload token in the log");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&journal).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "the journal holds secrets");
    }
}
