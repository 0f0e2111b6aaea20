//! Bugs found while writing the `emulator_request` and `emulator_faults` fuzz targets (`fuzz/`):
//! their header checks (no response header split by request bytes) failed on these inputs. Replayed
//! on stable so that they stay fixed.

mod common;

use common::{Client, small};
use gphotos_emulator::{FaultAction, FaultRule, Occurrence, RequestKind};

/// A `redirect_uri` with an encoded line break passed the loopback check and went
/// back verbatim in the consent redirect's `Location`, so a request could forge response headers.
#[test]
fn a_redirect_uri_with_a_line_break_is_refused() {
    let emu = small(8);
    let mut client = Client::connect(emu.addr());
    let target = "/oauth2/auth?client_id=id&response_type=code&scope=s&state=x\
                  &redirect_uri=http%3A%2F%2F127.0.0.1%3A9%2F%0D%0AX-Injected%3A%20yes";
    let reply = client.send("GET", target, &[], b"");
    assert_eq!(reply.status, 400, "{}", reply.text());
    assert!(reply.header("x-injected").is_none());
    assert!(reply.header("location").is_none());
}

/// A status fault's `retry-after` with a line break (from `--fault` or the
/// control endpoint's JSON) was accepted and written into the `Retry-After` header, forging headers
/// of its own. Such a rule is now refused.
#[test]
fn a_retry_after_with_a_line_break_is_refused() {
    assert!(
        "any:status=503,retry-after=1\r\nX-Injected: yes"
            .parse::<FaultRule>()
            .is_err()
    );
    let rule = FaultRule::new(
        RequestKind::Any,
        Occurrence::Nth(1),
        FaultAction::Status {
            status: 503,
            retry_after: Some("1\nX-Injected: yes".into()),
            body: None,
        },
    );
    let emu = small(8);
    assert!(emu.inject(rule).is_err());
    // A printable value still goes through.
    assert!("any:status=503,retry-after=30".parse::<FaultRule>().is_ok());
}

/// `emulator_faults`: a status fault of 100 was accepted, and the emulator sent
/// `HTTP/1.1 100 Continue` with a JSON body; a client takes a 1xx as interim, so the body was read
/// as the next response (malformed). 204 and 304 have the same flaw: a client reads no body after
/// them. Such statuses are now refused.
#[test]
fn a_status_fault_without_room_for_a_body_is_refused() {
    for status in ["100", "101", "199", "204", "304"] {
        assert!(
            format!("any:status={status}").parse::<FaultRule>().is_err(),
            "{status}"
        );
    }
    for status in ["200", "404", "503", "599"] {
        assert!(
            format!("any:status={status}").parse::<FaultRule>().is_ok(),
            "{status}"
        );
    }
}
