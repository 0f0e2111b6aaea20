//! How connections behave: the simulated round-trip time, early replies that close the connection,
//! and the cap on connections served at once.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use common::*;
use gphotos_emulator::{Config, Emulator};

fn get_missing_item(client: &mut Client) -> Reply {
    client.send("GET", "/v1/mediaItems/missing", &[AUTH], b"")
}

#[test]
fn latency_delays_each_reply_without_holding_up_other_connections() {
    let latency = Duration::from_millis(250);
    let emu = Emulator::start(Config {
        latency,
        ..Config::default()
    })
    .unwrap();
    let mut c = Client::connect(emu.addr());
    let began = Instant::now();
    assert_eq!(get_missing_item(&mut c).status, 404);
    assert!(began.elapsed() >= latency, "{:?}", began.elapsed());

    // Eight connections at once: the waits overlap instead of adding up.
    let connections = 8u32;
    let addr = emu.addr();
    let began = Instant::now();
    let clients: Vec<_> = (0..connections)
        .map(|_| {
            thread::spawn(move || {
                let mut c = Client::connect(addr);
                let began = Instant::now();
                let status = get_missing_item(&mut c).status;
                (status, began.elapsed())
            })
        })
        .collect();
    for client in clients {
        let (status, took) = client.join().unwrap();
        assert_eq!(status, 404);
        assert!(took >= latency, "{took:?}");
    }
    let took = began.elapsed();
    assert!(
        took < latency * connections / 2,
        "{connections} replies delayed {latency:?} each took {took:?} in parallel"
    );
}

/// Sends `head` and `body_len` bytes of body the way a blocking HTTP client does (all of it before
/// reading anything), then reads what the server sends until it closes. Returns the first write
/// or read error, and what was read.
fn write_then_read(addr: SocketAddr, head: &str, body_len: usize) -> (std::io::Result<()>, String) {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream
        .set_write_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut outcome = stream.write_all(head.as_bytes());
    let piece = vec![7u8; 64 * 1024];
    let mut left = body_len;
    while outcome.is_ok() && left > 0 {
        let len = left.min(piece.len());
        outcome = stream.write_all(&piece[..len]);
        left -= len;
    }
    let mut reply = Vec::new();
    let read = stream.read_to_end(&mut reply).map(|_| ());
    (
        outcome.and(read),
        String::from_utf8_lossy(&reply).into_owned(),
    )
}

#[test]
fn an_early_reply_that_closes_reaches_a_client_still_sending() {
    let emu = small(8);
    let mut c = Client::connect(emu.addr());
    let session = start(&mut c, 1 << 30, "big.mp4");
    emu.inject("upload@1:status=503".parse().unwrap()).unwrap();
    // Each request announces far more body than it sends; the emulator answers before reading it
    // and closes. Three MiB is more than loopback's socket buffers take in before the close.
    let sent = 3 * 1024 * 1024;
    let cases = [
        (
            "a refused oversized JSON body",
            format!(
                "POST /v1/mediaItems:batchCreate HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer t\r\nContent-Length: {}\r\n\r\n",
                1u64 << 30
            ),
            "413 ",
        ),
        (
            "an injected fault on a chunk of a client that asked to close",
            format!(
                "POST {session} HTTP/1.1\r\nHost: x\r\nX-Goog-Upload-Command: upload\r\nX-Goog-Upload-Offset: 0\r\nConnection: close\r\nContent-Length: {}\r\n\r\n",
                64u64 << 20
            ),
            "503 ",
        ),
    ];
    for (what, head, status) in cases {
        let (outcome, reply) = write_then_read(emu.addr(), &head, sent);
        if let Err(error) = outcome {
            panic!("{what}: {error}; read so far: {reply}");
        }
        assert!(
            reply.starts_with(&format!("HTTP/1.1 {status}")),
            "{what}: {reply}"
        );
        let (_, body) = reply.split_once("\r\n\r\n").expect("a whole head");
        let error: serde_json::Value = serde_json::from_str(body).expect("the whole JSON body");
        assert!(error["error"]["message"].is_string(), "{what}: {body}");
    }
}

#[test]
fn connections_over_the_cap_get_503_until_one_closes() {
    let cap = 4;
    let emu = Emulator::start(Config {
        max_connections: cap,
        ..Config::default()
    })
    .unwrap();
    // Each held connection is served once, so the emulator has counted it before the next one.
    let mut held: Vec<Client> = (0..cap)
        .map(|_| {
            let mut c = Client::connect(emu.addr());
            assert_eq!(get_missing_item(&mut c).status, 404);
            c
        })
        .collect();

    let mut over = Client::connect(emu.addr());
    let reply = get_missing_item(&mut over);
    assert_eq!(reply.status, 503, "{}", reply.text());
    assert_eq!(reply.json()["error"]["status"], "UNAVAILABLE");
    assert_eq!(reply.header("connection"), Some("close"));
    assert!(over.closed());
    // The refused request was not read, so it is not in the log; the held ones still work.
    assert_eq!(emu.inspect().requests.len(), cap);
    assert_eq!(get_missing_item(&mut held[0]).status, 404);

    // Once one closes, the emulator notices on that connection's thread and takes new ones again.
    drop(held.pop());
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let mut c = Client::connect(emu.addr());
        match get_missing_item(&mut c).status {
            404 => break,
            503 if Instant::now() < deadline => thread::sleep(Duration::from_millis(20)),
            status => panic!("a freed slot was not reused: {status}"),
        }
    }
    for c in &mut held {
        assert_eq!(get_missing_item(c).status, 404);
    }
}

#[test]
fn a_zero_connection_cap_is_refused() {
    let error = Emulator::start(Config {
        max_connections: 0,
        ..Config::default()
    })
    .unwrap_err();
    assert_eq!(error.kind(), std::io::ErrorKind::InvalidInput);
}
