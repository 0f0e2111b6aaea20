//! How an emulator behaves: port, granularity, tokens, storage, faults.

use std::fmt;
use std::time::Duration;

use crate::faults::{FaultRule, RandomFaults};

/// Google's chunk granularity in its own example reply.
pub const DEFAULT_GRANULARITY: u64 = 262_144;

/// Where uploaded bytes go.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Storage {
    /// Each upload is a file in a temporary directory that is deleted when the emulator stops, so a
    /// 20 GB video does not live in memory.
    #[default]
    TempDir,
    /// Bytes are only counted and hashed (SHA-256), never stored: for benchmarks.
    Sink,
}

/// Configuration of an [`crate::Emulator`]. `Debug` redacts the access token.
#[derive(Clone)]
pub struct Config {
    /// TCP port on 127.0.0.1; 0 picks a free one.
    pub port: u16,
    /// `X-Goog-Upload-Chunk-Granularity`: every non-final chunk must be a multiple of it. Positive.
    pub granularity: u64,
    /// `None` accepts any non-empty bearer token. `Some(t)` accepts only `t` plus the access tokens
    /// this emulator's token endpoint issued (and has not seen expire).
    pub access_token: Option<String>,
    /// How long an upload token can be used in batchCreate (Google: one day).
    pub upload_token_lifetime: Duration,
    /// Lifetime of the access tokens the token endpoint issues (`expires_in`).
    pub access_token_lifetime: Duration,
    /// Where uploaded bytes go.
    pub storage: Storage,
    /// Fault rules installed at start.
    pub faults: Vec<FaultRule>,
    /// Random transient faults, if any.
    pub random_faults: Option<RandomFaults>,
    /// Origin (`scheme://host[:port]`, no path) for the session URLs that start returns, instead of
    /// the emulator's own `http://127.0.0.1:PORT`; without a port, the emulator's own port is used.
    /// Requests must still reach the emulator; use it to check that a client keeps its bearer token
    /// away from foreign origins (for example `http://localhost`).
    pub session_origin: Option<String>,
    /// How long a connection may sit idle, or stall mid-request, before the emulator closes it.
    pub io_timeout: Duration,
    /// Simulated network round-trip time: every final reply (control endpoints aside) waits this
    /// long before it is written. On loopback the round trip is near zero, so without it the gain
    /// of uploading several files at once cannot show; Google is tens of milliseconds away. The
    /// wait sleeps on the connection's own thread: it costs no CPU and delays no other connection.
    pub latency: Duration,
    /// Connections served at once. One more gets `503 UNAVAILABLE` with `Connection: close` as soon
    /// as it is accepted, before its request is read (and it is not recorded), so that threads stay
    /// bounded; the server keeps serving, and takes new connections again once some close.
    /// Positive.
    pub max_connections: usize,
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("port", &self.port)
            .field("granularity", &self.granularity)
            .field(
                "access_token",
                &self.access_token.as_ref().map(|_| "<redacted>"),
            )
            .field("upload_token_lifetime", &self.upload_token_lifetime)
            .field("access_token_lifetime", &self.access_token_lifetime)
            .field("storage", &self.storage)
            .field("faults", &self.faults)
            .field("random_faults", &self.random_faults)
            .field("session_origin", &self.session_origin)
            .field("io_timeout", &self.io_timeout)
            .field("latency", &self.latency)
            .field("max_connections", &self.max_connections)
            .finish()
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            port: 0,
            granularity: DEFAULT_GRANULARITY,
            access_token: None,
            upload_token_lifetime: Duration::from_secs(24 * 60 * 60),
            access_token_lifetime: Duration::from_secs(60 * 60),
            storage: Storage::TempDir,
            faults: Vec::new(),
            random_faults: None,
            session_origin: None,
            io_timeout: Duration::from_secs(30),
            latency: Duration::ZERO,
            max_connections: 512,
        }
    }
}

impl Config {
    /// Checks the values that can be wrong; [`crate::Emulator::start`] calls it.
    ///
    /// # Errors
    /// A message naming the bad value.
    pub fn validate(&self) -> Result<(), String> {
        if self.granularity == 0 {
            return Err("granularity must be positive".into());
        }
        if self.access_token.as_deref() == Some("") {
            return Err("the access token must not be empty".into());
        }
        if let Some(random) = self.random_faults
            && !(0.0..=1.0).contains(&random.probability)
        {
            return Err(format!(
                "random fault probability {} is not within 0..=1",
                random.probability
            ));
        }
        if let Some(origin) = &self.session_origin {
            let rest = origin
                .strip_prefix("http://")
                .or_else(|| origin.strip_prefix("https://"))
                .ok_or_else(|| format!("session origin `{origin}` is not http(s)://host[:port]"))?;
            if rest.is_empty() || rest.trim_end_matches('/').contains(['/', '?', '#', ' ']) {
                return Err(format!(
                    "session origin `{origin}` must be scheme://host[:port] without a path"
                ));
            }
        }
        if self.io_timeout.is_zero() {
            return Err("the I/O timeout must be positive".into());
        }
        if self.max_connections == 0 {
            return Err("the connection limit must be positive".into());
        }
        for rule in &self.faults {
            rule.validate().map_err(|e| e.to_string())?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::Config;

    #[test]
    fn debug_hides_the_access_token() {
        let config = Config {
            access_token: Some("sekrit".into()),
            ..Config::default()
        };
        let shown = format!("{config:?}");
        assert!(
            !shown.contains("sekrit") && shown.contains("redacted"),
            "{shown}"
        );
    }
}
