//! Kill and rerun: the real binary is killed (`SIGKILL`) part way through, and the same command run again
//! resumes from its journal (in the default location) without losing or duplicating anything.

mod support;

use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use gphotos_emulator::{Config, Emulator, RequestKind};
use support::{
    assert_exit, finish, json_lines, sha256_hex, show, tempdir, upload_command, write_media,
};

const MIB: u64 = 1024 * 1024;

/// Waits until `ready` holds for the emulator's state, then SIGKILLs the child.
fn kill_when(
    child: &mut Child,
    emu: &Emulator,
    ready: impl Fn(&gphotos_emulator::Inspection) -> bool,
) {
    let started = Instant::now();
    loop {
        if ready(&emu.inspect()) {
            break;
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "the upload ended before the kill point"
        );
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the kill point never came"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap(); // SIGKILL on Unix: no chance to clean up
    child.wait().unwrap();
}

#[test]
fn a_killed_large_upload_resumes_resending_at_most_one_chunk_per_kill() {
    let emu = Emulator::start(Config::default()).unwrap();
    // Slow chunks, so the kills land mid-upload.
    emu.inject("upload@every:stall=30ms".parse().unwrap())
        .unwrap();
    let home = tempdir();
    let video = home.path().join("long.mp4");
    let bytes = write_media(&video, 64 << 20, 9);
    let spawn = || {
        upload_command(home.path(), &emu)
            .args(["--chunk-size", "1M"])
            .arg(&video)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let received = |state: &gphotos_emulator::Inspection| {
        state.sessions.first().map_or(0, |s| s.bytes_received)
    };

    let mut first = spawn();
    kill_when(&mut first, &emu, |s| received(s) >= 16 * MIB);
    let mut second = spawn();
    kill_when(&mut second, &emu, |s| received(s) >= 40 * MIB);
    emu.clear_faults();
    let output = finish(
        upload_command(home.path(), &emu)
            .args(["--chunk-size", "1M"])
            .arg(&video),
    );
    assert_exit(&output, 0);
    assert_eq!(
        json_lines(&output)[0]["status"],
        "created",
        "{}",
        show(&output)
    );

    let state = emu.inspect();
    assert_eq!(
        state.sessions.len(),
        1,
        "every rerun resumed the same session"
    );
    assert_eq!(state.media_items.len(), 1, "exactly one media item");
    assert_eq!(
        state.media_items[0].sha256,
        sha256_hex(&bytes),
        "byte-exact"
    );
    let seen = state.sessions[0].bytes_seen;
    let resent = seen - bytes.len() as u64;
    assert!(
        resent <= 2 * MIB,
        "at most one 1 MiB chunk re-sent per kill: {resent} bytes"
    );
    let queries = state.requests_of(RequestKind::Query).count();
    assert!(
        queries >= 2,
        "each rerun asked the server where it stands: {queries}"
    );
}

#[test]
fn a_run_killed_while_creating_never_creates_a_second_item() {
    let emu = Emulator::start(Config::default()).unwrap();
    // The emulator creates the item, then holds the reply: the kill lands before the client
    // learns the outcome.
    emu.inject("batch_create@1:stall=4s".parse().unwrap())
        .unwrap();
    let home = tempdir();
    let photo = home.path().join("p.jpg");
    let bytes = write_media(&photo, 100_000, 3);
    let mut child = upload_command(home.path(), &emu)
        .arg(&photo)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    kill_when(&mut child, &emu, |s| !s.media_items.is_empty());
    emu.clear_faults();
    let raw_before = emu.inspect().requests_of(RequestKind::Raw).count();

    let output = finish(upload_command(home.path(), &emu).arg(&photo));
    let state = emu.inspect();
    assert_eq!(
        state.media_items.len(),
        1,
        "never a second item: {}",
        show(&output)
    );
    assert_eq!(state.media_items[0].sha256, sha256_hex(&bytes));
    assert_eq!(
        state.requests_of(RequestKind::Raw).count(),
        raw_before,
        "the file is not uploaded again"
    );
    let lines = json_lines(&output);
    assert_eq!(lines.len(), 1);
    // The rerun re-sends the journaled token: either it learns the item exists, or it reports
    // honestly that creation is unconfirmed.
    let status = lines[0]["status"].as_str().unwrap();
    assert!(
        status == "created"
            || lines[0]["error"]
                .as_str()
                .unwrap()
                .contains("probably created"),
        "{}",
        show(&output)
    );
}

#[test]
fn upload_tokens_of_a_killed_run_are_reused_not_uploaded_again() {
    let emu = Emulator::start(Config::default()).unwrap();
    // The video is slow, so the photos wait (uploaded, tokens journaled) for one batchCreate.
    emu.inject("upload@every:stall=100ms".parse().unwrap())
        .unwrap();
    let home = tempdir();
    let dir = home.path().join("day");
    write_media(&dir.join("a.jpg"), 20_000, 1);
    write_media(&dir.join("b.jpg"), 30_000, 2);
    let video = write_media(&dir.join("c.mp4"), 4 << 20, 3);
    let command = || {
        let mut command = upload_command(home.path(), &emu);
        command.args(["--chunk-size", "256K"]).arg(&dir);
        command
    };
    let mut child = command()
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    kill_when(&mut child, &emu, |s| {
        s.requests_of(RequestKind::Raw)
            .filter(|r| r.status == Some(200))
            .count()
            == 2
            && s.sessions.first().is_some_and(|v| v.bytes_received >= MIB)
    });
    assert!(
        emu.inspect().media_items.is_empty(),
        "killed before any item was created"
    );
    emu.clear_faults();
    let output = finish(&mut command());
    assert_exit(&output, 0);
    let state = emu.inspect();
    assert_eq!(
        state.requests_of(RequestKind::Raw).count(),
        2,
        "the photos' journaled upload tokens were used, not uploaded again"
    );
    assert_eq!(state.sessions.len(), 1, "the video resumed its session");
    assert_eq!(state.media_items.len(), 3);
    assert!(
        state
            .media_items
            .iter()
            .any(|m| m.sha256 == sha256_hex(&video))
    );
    assert_eq!(state.requests_of(RequestKind::BatchCreate).count(), 1);
}
