//! Property tests: the invariants of DESIGN.md section 4 over random sizes, granularities, chunk
//! sizes and server behaviour scripts. The harness in `support` checks invariants 1 to 6 after every
//! step; the properties here add byte accounting (3), snapshots (7) and arbitrary replies (8).

mod support;

use std::time::{Duration, Instant};

use gphotos_upload::upload::protocol;
use gphotos_upload::{Action, MediaFile, Payload, Phase, RetryPolicy, Upload, UploadConfig};
use http::Response;
use proptest::prelude::*;
use support::{End, FakeServer, Fault, Harness, endpoint};

/// Bounds that keep runs short but every path reachable. `max_elapsed` is generous so that a
/// restored machine (whose time budget restarts) behaves exactly as the original.
fn policy() -> RetryPolicy {
    RetryPolicy {
        initial: Duration::from_secs(1),
        max_delay: Duration::from_secs(32),
        throttle_floor: Duration::from_secs(30),
        max_attempts: 8,
        max_elapsed: Duration::from_secs(1_000_000),
    }
}

const MAX_RETRY_AFTER: u64 = 120;

fn max_wait() -> Duration {
    Duration::from_secs(MAX_RETRY_AFTER)
        .max(policy().max_delay)
        .max(policy().throttle_floor)
}

#[derive(Debug, Clone)]
struct Case {
    size: u64,
    granularity: u64,
    chunk_granules: u64,
    seed: u64,
}

fn case() -> impl Strategy<Value = Case> {
    (1u64..=64, 1u64..=6, any::<u64>()).prop_flat_map(|(granularity, chunk_granules, seed)| {
        // Sizes from one byte to a few chunks, with the edges (exact multiples) well represented.
        let chunk = granularity * chunk_granules;
        prop_oneof![
            1..=chunk * 5,
            (1u64..=5).prop_map(move |n| n * chunk),
            (1u64..=20).prop_map(move |n| n * granularity),
        ]
        .prop_map(move |size| Case {
            size,
            granularity,
            chunk_granules,
            seed,
        })
    })
}

fn any_fault() -> impl Strategy<Value = Fault> {
    prop_oneof![
        12 => Just(Fault::None),
        1 => prop::sample::select(vec![400u16, 401, 404, 408, 410, 429, 500, 502, 503, 504])
            .prop_flat_map(|code| (Just(code), prop::option::of(0..=MAX_RETRY_AFTER)))
            .prop_map(|(code, retry_after)| Fault::Status(code, retry_after)),
        1 => Just(Fault::DropBefore),
        1 => Just(Fault::DropAfter),
        1 => (0u64..4).prop_map(Fault::Partial),
        1 => (0u64..4).prop_map(Fault::LoseTail),
        1 => Just(Fault::Expire),
        1 => Just(Fault::Garbage),
    ]
}

/// Faults the machine must always survive when they come a few at a time.
fn recoverable_fault() -> impl Strategy<Value = Fault> {
    prop_oneof![
        4 => Just(Fault::None),
        1 => prop::sample::select(vec![408u16, 429, 500, 502, 503, 504])
            .prop_flat_map(|code| (Just(code), prop::option::of(0..=MAX_RETRY_AFTER)))
            .prop_map(|(code, retry_after)| Fault::Status(code, retry_after)),
        1 => Just(Fault::DropBefore),
        1 => Just(Fault::DropAfter),
        1 => (0u64..4).prop_map(Fault::Partial),
        1 => Just(Fault::LoseTail(1)),
        1 => Just(Fault::Garbage),
    ]
}

fn upload(case: &Case) -> Upload {
    let file = MediaFile {
        size: case.size,
        mime_type: "video/mp4".into(),
        file_name: None,
    };
    let config = UploadConfig {
        chunk_size: case.granularity * case.chunk_granules,
        retry: policy(),
        seed: case.seed,
        ..UploadConfig::default()
    };
    Upload::new(endpoint(), file, config).unwrap()
}

fn harness(case: &Case, script: Vec<Fault>) -> Harness {
    Harness::new(
        upload(case),
        FakeServer::new(case.granularity, script),
        max_wait(),
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Invariants 1-6 and 8 under any mix of faults: the harness asserts offsets, chunk shapes,
    /// resyncs, tokens and waits at every step, and the run must end within a bounded number of steps.
    #[test]
    fn any_fault_script_keeps_the_invariants_and_ends(case in case(), script in prop::collection::vec(any_fault(), 0..40)) {
        let mut h = harness(&case, script);
        match h.run(2_000) {
            End::Done(_) => prop_assert_eq!(h.upload.progress().confirmed, case.size),
            End::Failed(error) => prop_assert!(!error.to_string().is_empty()),
        }
    }

    /// Invariant 3 and the fault budget of DESIGN.md section 5: a few recoverable faults always end in
    /// a byte-exact upload in one session, re-sending at most one chunk per fault.
    #[test]
    fn recoverable_faults_finish_byte_exact(case in case(), script in prop::collection::vec(recoverable_fault(), 0..7)) {
        let faults = script.iter().filter(|f| **f != Fault::None).count() as u64;
        let mut h = harness(&case, script);
        let end = h.run(2_000);
        prop_assert!(matches!(end, End::Done(_)), "{:?}", end);
        // A start whose reply was lost leaves an empty orphan session; the bytes go to one session.
        prop_assert_eq!(h.server.sessions.iter().filter(|s| s.bytes_in > 0).count(), 1);
        let chunk = case.granularity * case.chunk_granules;
        let bytes_in: u64 = h.server.sessions.iter().map(|s| s.bytes_in).sum();
        prop_assert!(bytes_in <= case.size + faults * chunk, "{} bytes for {} with {} faults", bytes_in, case.size, faults);
    }

    /// Invariant 6: a Retry-After is honoured to the second, and no wait exceeds the policy's bounds
    /// (the harness checks the bound for every wait).
    #[test]
    fn retry_after_is_honoured(case in case(), at in 0usize..4, seconds in 0..=MAX_RETRY_AFTER, code in prop::sample::select(vec![429u16, 503])) {
        let mut script = vec![Fault::None; at];
        script.push(Fault::Status(code, Some(seconds)));
        let mut h = harness(&case, script);
        prop_assert!(matches!(h.run(2_000), End::Done(_)));
        if h.server.requests > at + 1 && seconds > 0 {
            prop_assert!(h.waits.contains(&Duration::from_secs(seconds)), "{:?}", h.waits);
        }
    }

    /// Invariant 7: a snapshot taken at any point and restored sends exactly the requests the
    /// original sends, and ends the same way.
    #[test]
    fn snapshots_continue_like_the_original(case in case(), script in prop::collection::vec(any_fault(), 0..20), cut in 0usize..30) {
        let mut original = harness(&case, script);
        let mut ended = None;
        for _ in 0..cut {
            if let Some(end) = original.step() {
                ended = Some(end);
                break;
            }
        }
        prop_assume!(ended.is_none());
        // A pending wait is skipped by a restored machine; step past it so both sides wait alike.
        while original.upload.phase() == Phase::Waiting && ended.is_none() {
            ended = original.step();
        }
        prop_assume!(ended.is_none());
        let saved = serde_json::to_vec(&original.upload).unwrap();
        let restored: Upload = serde_json::from_slice(&saved).unwrap();
        let mut copy = original.fork(restored);
        let before = original.sent.len();
        let waited_before = original.waits.len();
        let end_original = original.run(2_000);
        let end_copy = copy.run(2_000);
        prop_assert_eq!(&original.sent[before..], &copy.sent[..]);
        prop_assert_eq!(&original.waits[waited_before..], &copy.waits[..]);
        prop_assert_eq!(end_original, end_copy);
    }

    /// Invariant 8: replies with arbitrary statuses, headers and bodies end in `Done` or a typed error
    /// within a bounded number of steps, never a panic, and never a request outside the file.
    #[test]
    fn arbitrary_replies_end_without_panic(case in case(), replies in prop::collection::vec(arbitrary_reply(), 1..200)) {
        let mut machine = upload(&case);
        let mut now = Instant::now();
        let mut replies = replies.into_iter().cycle();
        let mut ended = false;
        for _ in 0..20_000 {
            match machine.poll_action(now) {
                Action::Send(t) => {
                    if let Payload::Range { offset, len } = *t.request.body() {
                        prop_assert!(len > 0 && offset + len <= case.size);
                        if support::command(&t.request) == "upload, finalize" {
                            prop_assert_eq!(offset + len, case.size);
                        }
                    }
                    match replies.next().unwrap() {
                        Some(reply) => machine.handle_response(now, t.id, &reply).unwrap(),
                        None => machine.handle_transport_error(now, t.id, &"reset").unwrap(),
                    }
                }
                Action::WaitUntil(at) => {
                    prop_assert!(at > now);
                    now = at;
                }
                Action::RefreshToken => machine.token_refreshed(),
                Action::AwaitReply => prop_assert!(false, "nothing in flight"),
                Action::Done(_) | Action::Failed(_) => {
                    ended = true;
                    break;
                }
            }
        }
        prop_assert!(ended, "no end: {:?}", machine);
    }
}

fn header_value() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("active".to_owned()),
        Just("final".to_owned()),
        Just("cancelled".to_owned()),
        (0u64..5000).prop_map(|n| n.to_string()),
        Just("http://127.0.0.1:9/upload/0".to_owned()),
        Just("/upload/1".to_owned()),
        Just("http://evil.example/x".to_owned()),
        "[ -~]{0,12}",
    ]
}

/// A reply with a random status, a random subset of the protocol's headers and a random body, or
/// `None` for a transport error.
fn arbitrary_reply() -> impl Strategy<Value = Option<Response<Vec<u8>>>> {
    let headers = [
        protocol::STATUS,
        protocol::SIZE_RECEIVED,
        protocol::URL,
        protocol::GRANULARITY,
        http::header::RETRY_AFTER,
    ];
    let reply = (
        prop::sample::select(vec![
            200u16, 200, 200, 201, 400, 401, 404, 408, 410, 429, 500, 503,
        ]),
        prop::collection::vec(
            (prop::sample::select(headers.to_vec()), header_value()),
            0..5,
        ),
        prop_oneof![
            Just(Vec::new()),
            prop::collection::vec(any::<u8>(), 0..40),
            Just(b"tok".to_vec())
        ],
    )
        .prop_map(|(status, headers, body)| {
            let mut reply = Response::builder().status(status);
            for (name, value) in headers {
                reply = reply.header(name, value);
            }
            reply.body(body).unwrap()
        });
    prop_oneof![8 => reply.prop_map(Some), 1 => Just(None)]
}
