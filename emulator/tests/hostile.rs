//! Hostile input: oversized heads, lying Content-Length, garbage. The emulator answers a clear 4xx
//! where it can, never panics, and keeps serving everyone else.

mod common;

use std::io::Write;
use std::net::{Shutdown, TcpStream};
use std::thread;
use std::time::Duration;

use common::*;
use gphotos_emulator::{Config, Emulator};

/// A well-behaved client completes a whole upload.
fn honest_upload_works(emu: &Emulator) {
    let mut c = Client::connect(emu.addr());
    let data = [9u8; 20];
    let session = start(&mut c, 20, "ok.jpg");
    assert_eq!(
        chunk(&mut c, &session, "upload", 0, &data[..16]).status,
        200
    );
    let reply = chunk(&mut c, &session, "upload, finalize", 16, &data[16..]);
    assert_eq!(reply.status, 200);
}

#[test]
fn oversized_and_too_many_headers() {
    let emu = small(8);
    let mut c = Client::connect(emu.addr());
    let big = "x".repeat(70 * 1024);
    c.send_raw(format!("GET /v1/mediaItems/a HTTP/1.1\r\nX-Big: {big}\r\n\r\n").as_bytes());
    assert_eq!(c.read_reply().unwrap().status, 431);
    assert!(c.closed());

    let mut c = Client::connect(emu.addr());
    let many = "X-H: v\r\n".repeat(200);
    c.send_raw(format!("GET / HTTP/1.1\r\n{many}\r\n").as_bytes());
    assert_eq!(c.read_reply().unwrap().status, 431);

    // A head that never ends, sent slowly, only ties up its own connection.
    let mut slow = TcpStream::connect(emu.addr()).unwrap();
    slow.write_all(b"POST /v1/uploads HTTP/1.1\r\nX-Goog-Upload-Protocol: res")
        .unwrap();
    honest_upload_works(&emu);
    drop(slow);
}

#[test]
fn garbage_bytes_get_400() {
    let emu = small(8);
    for garbage in [
        &b"\x00\x01\x02\xff\xfe garbage\r\n\r\n"[..],
        b"GET\r\n\r\n",
        b"GET /a HTTP/9.9\r\n\r\n",
        b"GET evil/path HTTP/1.1\r\n\r\n",
        b"POST /v1/albums HTTP/1.1\r\nContent-Length: -5\r\n\r\n",
        b"POST /v1/albums HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n",
        b"POST /v1/albums HTTP/1.1\r\nBad Header\r\n\r\n",
    ] {
        let mut c = Client::connect(emu.addr());
        c.send_raw(garbage);
        let reply = c.read_reply().expect("an answer");
        assert_eq!(reply.status, 400, "{}", String::from_utf8_lossy(garbage));
    }
    honest_upload_works(&emu);
    let state = emu.inspect();
    assert!(
        state
            .requests
            .iter()
            .filter(|r| r.status == Some(400))
            .count()
            >= 7
    );
}

#[test]
fn body_shorter_than_content_length() {
    let emu = small(8);
    let mut c = Client::connect(emu.addr());
    let session = start(&mut c, 32, "x");
    // Claim 32 bytes, send 20, and stop writing.
    c.send_raw(
        format!("POST {session} HTTP/1.1\r\nX-Goog-Upload-Command: upload, finalize\r\nX-Goog-Upload-Offset: 0\r\nContent-Length: 32\r\n\r\n")
            .as_bytes(),
    );
    c.send_raw(&[5; 20]);
    // While that request hangs, other clients are served.
    honest_upload_works(&emu);
    c.stream().shutdown(Shutdown::Write).unwrap();
    assert!(
        c.read_reply().is_none(),
        "nothing to answer to a truncated body"
    );
    let mut c = Client::connect(emu.addr());
    assert_eq!(
        size_received(&query(&mut c, &session)),
        16,
        "whole units of what arrived"
    );
    // A short JSON body likewise.
    let mut j = Client::connect(emu.addr());
    j.send_raw(b"POST /v1/albums HTTP/1.1\r\nAuthorization: Bearer t\r\nContent-Length: 100\r\n\r\n{\"album\":");
    j.stream().shutdown(Shutdown::Write).unwrap();
    assert!(j.read_reply().is_none());
    assert!(emu.inspect().albums.is_empty());
}

#[test]
fn body_longer_than_content_length() {
    let emu = small(8);
    let mut c = Client::connect(emu.addr());
    // The extra bytes are the start of the "next request", which is garbage: 400 and close.
    c.send_raw(b"POST /v1/albums HTTP/1.1\r\nAuthorization: Bearer t\r\nContent-Length: 23\r\n\r\n{\"album\":{\"title\":\"a\"}}EXTRA-BYTES-NOT-HTTP\r\n\r\n");
    assert_eq!(c.read_reply().unwrap().status, 200);
    assert_eq!(c.read_reply().unwrap().status, 400);
    assert!(c.closed());
    assert_eq!(emu.inspect().albums.len(), 1);
    honest_upload_works(&emu);
}

#[test]
fn oversized_json_body_is_refused() {
    let emu = small(8);
    let mut c = Client::connect(emu.addr());
    c.send_raw(b"POST /v1/mediaItems:batchCreate HTTP/1.1\r\nAuthorization: Bearer t\r\nContent-Length: 1000000000\r\nExpect: 100-continue\r\n\r\n");
    let reply = c.read_reply().unwrap();
    assert_eq!(reply.status, 413);
    assert!(c.closed());
}

#[test]
fn a_crowd_of_vandals_does_not_stop_honest_clients() {
    let emu = Emulator::start(Config {
        granularity: 8,
        io_timeout: Duration::from_secs(2),
        ..Config::default()
    })
    .unwrap();
    let addr = emu.addr();
    let vandals: Vec<_> = (0..24u8)
        .map(|i| {
            thread::spawn(move || {
                let Ok(mut s) = TcpStream::connect(addr) else {
                    return;
                };
                // Seeded junk: every byte value, some CRLFs, some plausible request lines.
                let mut x = u32::from(i).wrapping_mul(2_654_435_761) | 1;
                let junk: Vec<u8> = (0..4096)
                    .map(|_| {
                        x ^= x << 13;
                        x ^= x >> 17;
                        x ^= x << 5;
                        x.to_le_bytes()[0]
                    })
                    .collect();
                let _ =
                    s.write_all(b"POST /v1/uploads?upload_id=x HTTP/1.1\r\nContent-Length: 3\r\n");
                let _ = s.write_all(&junk);
                let _ = s.shutdown(Shutdown::Write);
            })
        })
        .collect();
    for _ in 0..3 {
        honest_upload_works(&emu);
    }
    for v in vandals {
        v.join().unwrap();
    }
    honest_upload_works(&emu);
    assert_eq!(emu.inspect().objects.len(), 4);
}
