//! Runs one client process under the RSS probe and reads back what it measured.

use std::ffi::OsString;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use crate::rss::PREFIX;

/// One measurement of one client process.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Sample {
    /// Wall time from spawning the client to its exit.
    pub(crate) elapsed: Duration,
    /// The client's peak resident set, KiB.
    pub(crate) max_rss_kib: u64,
    /// The client's CPU time (user and system).
    pub(crate) client_cpu: Duration,
    /// The emulator's CPU time during the run (filled in by the caller, which hosts it).
    pub(crate) server_cpu: Duration,
}

impl Sample {
    /// Two steps of one client run one after the other: times add up, the peak is the larger one.
    pub(crate) fn then(self, other: Self) -> Self {
        Self {
            elapsed: self.elapsed + other.elapsed,
            max_rss_kib: self.max_rss_kib.max(other.max_rss_kib),
            client_cpu: self.client_cpu + other.client_cpu,
            server_cpu: self.server_cpu + other.server_cpu,
        }
    }
}

/// A client command line and the environment it needs.
pub(crate) struct ClientCommand {
    pub(crate) program: OsString,
    pub(crate) args: Vec<OsString>,
    pub(crate) env: Vec<(&'static str, String)>,
}

/// Runs `client` as the only child of a probe process (`probe rss -- client...`).
///
/// # Errors
/// The client failed, or the probe's report is missing: the message holds the client's error
/// output.
pub(crate) fn run(probe: &Path, client: &ClientCommand) -> Result<Sample, String> {
    let output = Command::new(probe)
        .args(["rss", "--"])
        .arg(&client.program)
        .args(&client.args)
        .envs(client.env.iter().map(|(k, v)| (k, v)))
        .output()
        .map_err(|e| format!("cannot run {}: {e}", probe.display()))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let name = Path::new(&client.program)
        .file_name()
        .map_or_else(|| client.program.to_string_lossy(), |n| n.to_string_lossy());
    let report = stdout
        .lines()
        .rev()
        .find_map(|line| line.strip_prefix(PREFIX))
        .ok_or_else(|| format!("{name} gave no measurement; its output:\n{stderr}"))?;
    let field = |key: &str| -> Result<i128, String> {
        report
            .split_whitespace()
            .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| format!("the probe's report lacks {key}: {report:?}"))
    };
    let status = field("status")?;
    if status != 0 || !output.status.success() {
        return Err(format!(
            "{name} failed (exit status {status}); its output:\n{}",
            tail(&stderr, 40)
        ));
    }
    let elapsed = u64::try_from(field("elapsed_ns")?).map_err(|_| "negative time".to_owned())?;
    let max_rss_kib = u64::try_from(field("max_rss_kib")?)
        .map_err(|_| format!("{name}: the probe could not read the peak RSS"))?;
    let cpu = u64::try_from(field("cpu_us")?)
        .map_err(|_| format!("{name}: the probe could not read the CPU time"))?;
    Ok(Sample {
        elapsed: Duration::from_nanos(elapsed),
        max_rss_kib,
        client_cpu: Duration::from_micros(cpu),
        server_cpu: Duration::ZERO,
    })
}

/// The last `lines` lines of `text`.
fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_add_time_and_keep_the_larger_peak() {
        let a = Sample {
            elapsed: Duration::from_millis(3),
            max_rss_kib: 900,
            client_cpu: Duration::from_millis(1),
            server_cpu: Duration::from_millis(2),
        };
        let b = Sample {
            elapsed: Duration::from_millis(5),
            max_rss_kib: 400,
            client_cpu: Duration::from_millis(1),
            server_cpu: Duration::from_millis(2),
        };
        let both = a.then(b);
        assert_eq!(both.elapsed, Duration::from_millis(8));
        assert_eq!(both.max_rss_kib, 900);
        assert_eq!(both.client_cpu, Duration::from_millis(2));
        assert_eq!(both.server_cpu, Duration::from_millis(4));
    }

    #[test]
    fn tail_keeps_the_last_lines() {
        assert_eq!(tail("a\nb\nc", 2), "b\nc");
        assert_eq!(tail("a", 5), "a");
    }
}
