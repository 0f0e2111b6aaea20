//! The end-to-end scenarios on a hand-rolled `block_on`, with a transport built on
//! `std::net::TcpStream` and a thread per request: no async runtime at all.

mod support;

use support::std_transport::{Hold, StdTransport};
use support::{Signal, block_on, scenarios};

#[test]
fn happy_path() {
    block_on(scenarios::happy_path(StdTransport::new()));
}

#[test]
fn source_fails_mid_chunk() {
    block_on(scenarios::source_fails_mid_chunk(StdTransport::new()));
}

#[test]
fn server_unavailable() {
    block_on(scenarios::server_unavailable(StdTransport::new()));
}

#[test]
fn throttled_with_retry_after() {
    block_on(scenarios::throttled_with_retry_after(StdTransport::new()));
}

#[test]
fn dropped_connection() {
    block_on(scenarios::dropped_connection(StdTransport::new()));
}

#[test]
fn expired_session() {
    block_on(scenarios::expired_session(StdTransport::new()));
}

#[test]
fn refused_token_is_refreshed() {
    block_on(scenarios::refused_token_is_refreshed(StdTransport::new()));
}

#[test]
fn refused_static_token_resumes_later() {
    block_on(scenarios::refused_static_token_resumes_later(
        StdTransport::new(),
    ));
}

#[test]
fn daily_quota_stops() {
    block_on(scenarios::daily_quota_stops(StdTransport::new()));
}

#[test]
fn many_files_eight_at_a_time() {
    block_on(scenarios::many_files(StdTransport::new(), false));
}

#[test]
fn many_files_under_random_faults() {
    block_on(scenarios::many_files(StdTransport::new(), true));
}

#[test]
fn ambiguous_batch_create_is_resolved() {
    block_on(scenarios::ambiguous_batch_create_is_resolved(
        StdTransport::new(),
    ));
}

#[test]
fn oauth_refresh_through_the_token_endpoint() {
    block_on(scenarios::oauth_refresh_through_the_token_endpoint(
        StdTransport::new(),
    ));
}

#[test]
fn job_many_files() {
    block_on(scenarios::job_many_files(StdTransport::new(), false));
}

#[test]
fn job_many_files_under_random_faults() {
    block_on(scenarios::job_many_files(StdTransport::new(), true));
}

#[test]
fn job_resumes_from_its_journal() {
    block_on(scenarios::job_resumes_from_its_journal(StdTransport::new()));
}

/// The third chunk stops half-way on the wire; the driver future is dropped there.
fn drop_mid_chunk(snapshot: bool) {
    let reached = Signal::default();
    let transport = StdTransport::holding(Hold {
        nth: 3,
        after: 20_000,
        reached: reached.clone(),
    });
    block_on(scenarios::resume_after_drop(
        transport,
        None,
        async move { reached.wait().await },
        snapshot,
    ));
}

#[test]
fn resume_after_drop_mid_chunk() {
    drop_mid_chunk(false);
}

#[test]
fn resume_from_snapshot_after_drop_mid_chunk() {
    drop_mid_chunk(true);
}
