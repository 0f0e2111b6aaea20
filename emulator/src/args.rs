//! Command-line flags, shaped so that another binary can embed them with `#[command(flatten)]`.

use std::fmt;
use std::time::Duration;

use clap::Args;

use crate::config::{Config, DEFAULT_GRANULARITY, Storage};
use crate::faults::{FaultRule, RandomFaults, parse_duration};

/// Flags of the emulator (`gphotos-emulator --help`).
#[derive(Debug, Clone, Args)]
pub struct EmulatorArgs {
    /// TCP port on 127.0.0.1 (0 picks a free one).
    #[arg(long, default_value_t = 0)]
    pub port: u16,

    /// Chunk granularity announced at start; every non-final chunk must be a multiple of it.
    #[arg(long, value_name = "BYTES", default_value_t = DEFAULT_GRANULARITY)]
    pub granularity: u64,

    /// Accept only this bearer token (plus tokens the emulator's token endpoint issued). Without it,
    /// any non-empty bearer token is accepted.
    #[arg(long, value_name = "TOKEN")]
    pub access_token: Option<String>,

    /// Count and hash uploaded bytes without storing them (for benchmarks).
    #[arg(long)]
    pub sink: bool,

    /// Inject a fault: `KIND[@WHEN]:ACTION[=VALUE][,retry-after=V][,body=TEXT]`, for example
    /// `upload@2:status=503,retry-after=1`, `finalize@1:drop=1000`, `query@every:stall=2s`,
    /// `upload@3:lose-tail=262144`, `query@1:expire-session`, `batch_create@1:expire-token`,
    /// `start@1:malformed-headers`, `batch_create@1:malformed-body`, `any@10+:quota`.
    /// Kinds: start, raw, upload, finalize, query, cancel, `batch_create`, get, albums, token,
    /// consent, other, any.
    /// WHEN: N (the Nth), N+ (from the Nth on), every. Repeat the flag for several rules.
    #[arg(long = "fault", value_name = "RULE")]
    pub faults: Vec<FaultRule>,

    /// Enable random transient faults with this seed (reproducible for the same request order).
    #[arg(long, value_name = "SEED")]
    pub random_faults_seed: Option<u64>,

    /// Chance that a request suffers a random fault (needs --random-faults-seed).
    #[arg(long, value_name = "P", default_value_t = 0.05)]
    pub random_faults_probability: f64,

    /// How long an upload token stays usable (e.g. 30s, 10m, 1d).
    #[arg(long, value_name = "DURATION", default_value = "1d", value_parser = with_unit)]
    pub upload_token_lifetime: Duration,

    /// Lifetime of access tokens issued by the token endpoint (e.g. 1h).
    #[arg(long, value_name = "DURATION", default_value = "1h", value_parser = with_unit)]
    pub access_token_lifetime: Duration,

    /// Origin used in session URLs instead of http://127.0.0.1:PORT (e.g. `http://localhost`, which
    /// gets the emulator's port), to test that a client sends no bearer token to a foreign origin.
    #[arg(long, value_name = "ORIGIN")]
    pub session_origin: Option<String>,

    /// Simulated network round-trip time: every reply waits this long before it is sent
    /// (e.g. 20ms), as if Google were that far away. Other connections are not held up.
    #[arg(long, value_name = "DURATION", default_value = "0ms", value_parser = with_unit)]
    pub latency: Duration,
}

/// A duration such as `250ms` or `1d`; a bare number is refused because its unit would be a guess.
fn with_unit(text: &str) -> Result<Duration, String> {
    if text.trim().bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("`{text}` needs a unit: ms, s, m, h or d"));
    }
    parse_duration(text).map_err(|e| e.to_string())
}

impl EmulatorArgs {
    /// The configuration these flags describe.
    ///
    /// # Errors
    /// A value that the configuration rejects (see [`Config::validate`]).
    pub fn into_config(self) -> Result<Config, ArgsError> {
        let config = Config {
            port: self.port,
            granularity: self.granularity,
            access_token: self.access_token,
            upload_token_lifetime: self.upload_token_lifetime,
            access_token_lifetime: self.access_token_lifetime,
            storage: if self.sink {
                Storage::Sink
            } else {
                Storage::TempDir
            },
            faults: self.faults,
            random_faults: self.random_faults_seed.map(|seed| RandomFaults {
                seed,
                probability: self.random_faults_probability,
            }),
            session_origin: self.session_origin,
            latency: self.latency,
            ..Config::default()
        };
        config.validate().map_err(ArgsError)?;
        Ok(config)
    }
}

/// Flags that do not make a valid configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArgsError(pub String);

impl fmt::Display for ArgsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ArgsError {}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        emulator: EmulatorArgs,
    }

    #[test]
    fn flags_make_a_config() {
        let cli = Cli::try_parse_from([
            "x",
            "--port",
            "8080",
            "--sink",
            "--granularity",
            "1024",
            "--fault",
            "upload@2:status=503",
            "--fault",
            "query@every:stall=10ms",
            "--random-faults-seed",
            "9",
            "--upload-token-lifetime",
            "10m",
            "--session-origin",
            "http://localhost:8080",
            "--latency",
            "20ms",
        ])
        .unwrap();
        let config = cli.emulator.into_config().unwrap();
        assert_eq!(config.port, 8080);
        assert_eq!(config.storage, Storage::Sink);
        assert_eq!(config.granularity, 1024);
        assert_eq!(config.faults.len(), 2);
        assert_eq!(config.random_faults.map(|r| r.seed), Some(9));
        assert_eq!(config.upload_token_lifetime, Duration::from_secs(600));
        assert_eq!(config.latency, Duration::from_millis(20));
        let defaults = Cli::try_parse_from(["x"]).unwrap().emulator.into_config();
        assert_eq!(defaults.unwrap().latency, Duration::ZERO);
    }

    #[test]
    fn bad_flags_are_refused() {
        assert!(Cli::try_parse_from(["x", "--fault", "upload:explode"]).is_err());
        assert!(Cli::try_parse_from(["x", "--upload-token-lifetime", "60"]).is_err());
        assert!(Cli::try_parse_from(["x", "--latency", "20"]).is_err());
        assert!(Cli::try_parse_from(["x", "--latency", "fast"]).is_err());
        let cli = Cli::try_parse_from(["x", "--granularity", "0"]).unwrap();
        assert!(cli.emulator.into_config().is_err());
        let cli = Cli::try_parse_from([
            "x",
            "--random-faults-seed",
            "1",
            "--random-faults-probability",
            "2",
        ])
        .unwrap();
        assert!(cli.emulator.into_config().is_err());
    }
}
