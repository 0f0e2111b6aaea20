//! Starting and stopping, the binary, and two requests racing on one session.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::*;
use gphotos_emulator::{Config, Emulator};

#[test]
fn stop_closes_connections_and_frees_the_port() {
    let emu = small(8);
    let addr = emu.addr();
    let mut idle = Client::connect(addr);
    let mut c = Client::connect(addr);
    upload(&mut c, b"abc", "a");
    let path = emu.inspect().objects[0].path.clone().unwrap();
    assert!(path.exists());
    emu.stop();
    assert!(idle.closed(), "open connections are shut down");
    assert!(!path.exists(), "stored uploads are deleted");
    // The port can be bound again.
    let again = Emulator::start(Config {
        port: addr.port(),
        ..Config::default()
    })
    .unwrap();
    drop(again);
}

#[test]
fn bad_configuration_is_refused() {
    for config in [
        Config {
            granularity: 0,
            ..Config::default()
        },
        Config {
            session_origin: Some("localhost:80".into()),
            ..Config::default()
        },
        Config {
            session_origin: Some("http://localhost:80/v1".into()),
            ..Config::default()
        },
        Config {
            access_token: Some(String::new()),
            ..Config::default()
        },
    ] {
        let error = Emulator::start(config).unwrap_err();
        assert_eq!(error.kind(), std::io::ErrorKind::InvalidInput);
    }
}

#[test]
fn a_second_writer_on_a_busy_session_is_refused() {
    let emu = small(8);
    let mut a = Client::connect(emu.addr());
    let session = start(&mut a, 16, "x");
    // A sends its head and half its body, then pauses.
    a.send_raw(
        format!("POST {session} HTTP/1.1\r\nX-Goog-Upload-Command: upload, finalize\r\nX-Goog-Upload-Offset: 0\r\nContent-Length: 16\r\n\r\n01234567")
            .as_bytes(),
    );
    std::thread::sleep(Duration::from_millis(100));
    let mut b = Client::connect(emu.addr());
    // Query does not wait for the writer: it reports the whole units persisted so far.
    assert_eq!(size_received(&query(&mut b, &session)), 8);
    // A second writer waits a moment for the first, then gives up.
    let began = std::time::Instant::now();
    let reply = chunk(&mut b, &session, "upload, finalize", 8, b"89abcdef");
    assert_eq!(reply.status, 409);
    assert!(began.elapsed() >= Duration::from_millis(900));
    a.send_raw(b"89abcdef");
    assert_eq!(a.read_reply().unwrap().status, 200);
    assert_eq!(
        emu.inspect().objects[0].sha256,
        sha256_hex(b"0123456789abcdef")
    );
}

#[test]
fn a_resume_right_after_a_disconnect_settles() {
    let emu = small(8);
    let mut c = Client::connect(emu.addr());
    let data: Vec<u8> = (0..24).collect();
    for _ in 0..10 {
        let session = start(&mut c, 24, "x");
        // Half the body, then the connection dies; at once a new request resumes where the
        // server says. Whether or not the old thread has noticed yet, the resume must work.
        let mut a = Client::connect(emu.addr());
        a.send_raw(
            format!("POST {session} HTTP/1.1\r\nX-Goog-Upload-Command: upload, finalize\r\nX-Goog-Upload-Offset: 0\r\nContent-Length: 24\r\n\r\n")
                .as_bytes(),
        );
        a.send_raw(&data[..12]);
        drop(a);
        // Bytes still in flight when the query arrives make its answer stale, as on any network:
        // a 400 for the offset then means "query again", which must settle it.
        let mut answers = Vec::new();
        for _ in 0..2 {
            let received = size_received(&query(&mut c, &session));
            assert!(received == 0 || received == 8, "{received}");
            let rest = &data[usize::try_from(received).unwrap()..];
            let reply = chunk(&mut c, &session, "upload, finalize", received, rest);
            answers.push(reply.status);
            if reply.status == 200 {
                break;
            }
        }
        assert_eq!(answers.last(), Some(&200), "{answers:?}");
    }
    let state = emu.inspect();
    assert_eq!(state.objects.len(), 10);
    assert!(state.objects.iter().all(|o| o.sha256 == sha256_hex(&data)));
}

#[test]
fn the_binary_serves_until_interrupted() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_gphotos-emulator"))
        .args([
            "--port",
            "0",
            "--granularity",
            "8",
            "--fault",
            "get@1:status=503",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let base = lines.next().unwrap().unwrap();
    let token_uri = lines.next().unwrap().unwrap();
    let auth_uri = lines.next().unwrap().unwrap();
    let base = base.strip_prefix("base URL:").unwrap().trim().to_owned();
    assert!(
        base.starts_with("http://127.0.0.1:") && base.ends_with("/v1/"),
        "{base}"
    );
    assert!(token_uri.ends_with("/oauth2/token"));
    assert!(auth_uri.ends_with("/oauth2/auth"));
    let port: u16 = base["http://127.0.0.1:".len()..]
        .trim_end_matches("/v1/")
        .parse()
        .unwrap();
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let mut c = Client::connect(addr);
    assert_eq!(
        c.send("GET", "/v1/mediaItems/x", &[AUTH], b"").status,
        503,
        "--fault applies"
    );
    upload(&mut c, b"stored", "s");
    let state = c.send("GET", "/emulator/state", &[], b"").json();
    let path = std::path::PathBuf::from(state["objects"][0]["path"].as_str().unwrap());
    assert!(path.exists());
    let interrupted = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(interrupted.success());
    let status = child.wait().unwrap();
    assert!(status.success(), "{status}");
    assert!(!path.exists(), "Ctrl-C deletes stored uploads");
}

#[test]
fn the_binary_rejects_bad_flags() {
    let output = Command::new(env!("CARGO_BIN_EXE_gphotos-emulator"))
        .args(["--granularity", "0"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("granularity"));
}
