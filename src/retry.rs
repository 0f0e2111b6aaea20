//! The retry policy: which replies are worth another try, and how long to wait before it.
//!
//! Pure arithmetic over inputs: the caller passes `now`, and the jitter comes from a seeded generator
//! whose state travels with the machine, so a run is reproducible and a snapshot resumes it.

use std::time::{Duration, Instant};

use http::{HeaderMap, StatusCode};
use serde::{Deserialize, Serialize};

/// How many times and for how long a failing request is retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetryPolicy {
    /// Upper bound of the first wait (full jitter picks uniformly below it). Google suggests 1 s.
    pub initial: Duration,
    /// Upper bound of any computed wait; the exponential growth stops here.
    pub max_delay: Duration,
    /// Least wait after a 429 without `Retry-After`: Google's per-minute quotas need about 30 s.
    pub throttle_floor: Duration,
    /// Failures in a row, after which the operation fails with [`crate::Error::RetriesExhausted`].
    pub max_attempts: u32,
    /// Time since the first failure in a row after which no further retry is scheduled.
    pub max_elapsed: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            initial: Duration::from_secs(1),
            max_delay: Duration::from_secs(32),
            throttle_floor: Duration::from_secs(30),
            max_attempts: 8,
            max_elapsed: Duration::from_secs(15 * 60),
        }
    }
}

/// What the retry policy makes of one reply status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Success.
    Success,
    /// A transient failure (408, 429, 500, 502, 503, 504): wait, then try again.
    Transient {
        /// The server asked to slow down (429).
        throttled: bool,
    },
    /// The day's request quota is spent; retrying today is pointless.
    DailyQuota,
    /// The access token was refused (401).
    Unauthorized,
    /// Any other failure: retrying the same request will not help.
    Permanent,
}

/// Classifies a reply for the retry policy.
///
/// A 429 whose body names a per-day limit is the daily quota, which no amount of waiting within a run
/// cures.
pub fn classify(status: StatusCode, body: &[u8]) -> Verdict {
    match status.as_u16() {
        200..=299 => Verdict::Success,
        401 => Verdict::Unauthorized,
        429 if mentions_daily_limit(body) => Verdict::DailyQuota,
        429 => Verdict::Transient { throttled: true },
        408 | 500 | 502 | 503 | 504 => Verdict::Transient { throttled: false },
        _ => Verdict::Permanent,
    }
}

fn mentions_daily_limit(body: &[u8]) -> bool {
    let text = String::from_utf8_lossy(&body[..body.len().min(4096)]).to_ascii_lowercase();
    text.contains("per day") || text.contains("perday") || text.contains("daily")
}

/// The wait a reply asks for in `Retry-After`: delta seconds, or an HTTP date measured against the
/// reply's own `Date` header (so the client's clock never enters the sum).
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers
        .get(http::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    let date = headers.get(http::header::DATE)?.to_str().ok()?;
    let sent = httpdate::parse_http_date(date.trim()).ok()?;
    Some(at.duration_since(sent).unwrap_or(Duration::ZERO))
}

/// Failures in a row for one operation, and the jitter generator.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Backoff {
    attempts: u32,
    /// When the current run of failures began. An `Instant` means nothing in another process, so a
    /// restored machine starts its time budget afresh.
    #[serde(skip)]
    since: Option<Instant>,
    rng: u64,
}

impl Backoff {
    /// A fresh backoff whose jitter is drawn from `seed`.
    pub fn new(seed: u64) -> Self {
        Self {
            attempts: 0,
            since: None,
            rng: seed,
        }
    }

    /// Failures in a row so far.
    pub fn attempts(&self) -> u32 {
        self.attempts
    }

    /// Forgets the failures: the operation made progress.
    pub fn reset(&mut self) {
        self.attempts = 0;
        self.since = None;
    }

    /// Records a failure at `now` and returns when to try again, or `None` when the policy's bounds
    /// are spent.
    pub fn fail(
        &mut self,
        policy: &RetryPolicy,
        now: Instant,
        throttled: bool,
        retry_after: Option<Duration>,
    ) -> Option<Instant> {
        let since = *self.since.get_or_insert(now);
        self.attempts = self.attempts.saturating_add(1);
        if self.attempts > policy.max_attempts {
            return None;
        }
        let ceiling = policy
            .initial
            .saturating_mul(1u32.checked_shl(self.attempts - 1).unwrap_or(u32::MAX))
            .min(policy.max_delay);
        let delay = match retry_after {
            Some(asked) => asked,
            None if throttled => self.jitter(ceiling).max(policy.throttle_floor),
            None => self.jitter(ceiling),
        };
        let at = now.checked_add(delay)?;
        if at.saturating_duration_since(since) > policy.max_elapsed {
            return None;
        }
        Some(at)
    }

    /// Full jitter: uniform in `[0, ceiling]`, at millisecond resolution.
    fn jitter(&mut self, ceiling: Duration) -> Duration {
        let millis = u64::try_from(ceiling.as_millis()).unwrap_or(u64::MAX);
        Duration::from_millis(self.next_u64() % millis.saturating_add(1))
    }

    /// `SplitMix64`: tiny, seedable, and good enough to spread retries.
    fn next_u64(&mut self) -> u64 {
        self.rng = self.rng.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.rng;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}
