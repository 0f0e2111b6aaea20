//! The retry policy: classification of replies, `Retry-After`, and bounded backoff with jitter.

use std::time::{Duration, Instant};

use gphotos_upload::retry::{Backoff, RetryPolicy, Verdict, classify, retry_after};
use http::{HeaderMap, StatusCode};

#[test]
fn classifies_statuses() {
    assert_eq!(classify(StatusCode::OK, b""), Verdict::Success);
    assert_eq!(
        classify(StatusCode::TOO_MANY_REQUESTS, b"{}"),
        Verdict::Transient { throttled: true }
    );
    assert_eq!(
        classify(
            StatusCode::TOO_MANY_REQUESTS,
            b"Quota exceeded for quota metric 'All requests' and limit 'All requests per day'"
        ),
        Verdict::DailyQuota
    );
    for code in [408, 500, 502, 503, 504] {
        let status = StatusCode::from_u16(code).unwrap();
        assert_eq!(
            classify(status, b""),
            Verdict::Transient { throttled: false }
        );
    }
    assert_eq!(
        classify(StatusCode::UNAUTHORIZED, b""),
        Verdict::Unauthorized
    );
    assert_eq!(classify(StatusCode::BAD_REQUEST, b""), Verdict::Permanent);
}

#[test]
fn retry_after_in_seconds_and_as_date() {
    let mut headers = HeaderMap::new();
    headers.insert("retry-after", "7".parse().unwrap());
    assert_eq!(retry_after(&headers), Some(Duration::from_secs(7)));
    headers.insert(
        "retry-after",
        "Wed, 21 Oct 2015 07:28:40 GMT".parse().unwrap(),
    );
    assert_eq!(
        retry_after(&headers),
        None,
        "a date needs the reply's Date header"
    );
    headers.insert("date", "Wed, 21 Oct 2015 07:28:00 GMT".parse().unwrap());
    assert_eq!(retry_after(&headers), Some(Duration::from_secs(40)));
    headers.insert("retry-after", "soon".parse().unwrap());
    assert_eq!(retry_after(&headers), None);
}

#[test]
fn waits_grow_within_bounds_and_end() {
    let policy = RetryPolicy::default();
    let now = Instant::now();
    let mut backoff = Backoff::new(42);
    for attempt in 1..=policy.max_attempts {
        let at = backoff
            .fail(&policy, now, false, None)
            .expect("within bounds");
        let ceiling = (policy.initial * 2u32.pow(attempt - 1)).min(policy.max_delay);
        assert!(at - now <= ceiling, "attempt {attempt}: {:?}", at - now);
    }
    assert_eq!(backoff.fail(&policy, now, false, None), None);
    backoff.reset();
    assert!(backoff.fail(&policy, now, false, None).is_some());
}

#[test]
fn throttling_waits_at_least_the_floor_unless_told() {
    let policy = RetryPolicy::default();
    let now = Instant::now();
    let mut backoff = Backoff::new(1);
    let at = backoff.fail(&policy, now, true, None).unwrap();
    assert!(at - now >= policy.throttle_floor);
    let at = backoff
        .fail(&policy, now, true, Some(Duration::from_secs(2)))
        .unwrap();
    assert_eq!(at - now, Duration::from_secs(2));
}

#[test]
fn elapsed_budget_ends_retries() {
    let policy = RetryPolicy {
        max_elapsed: Duration::from_secs(60),
        ..RetryPolicy::default()
    };
    let start = Instant::now();
    let mut backoff = Backoff::new(3);
    assert!(backoff.fail(&policy, start, false, None).is_some());
    let later = start + Duration::from_secs(61);
    assert_eq!(backoff.fail(&policy, later, false, None), None);
}
