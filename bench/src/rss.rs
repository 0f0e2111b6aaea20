//! The RSS probe: runs one program as its only child and reports the child's wall time and peak
//! resident set.
//!
//! `getrusage(RUSAGE_CHILDREN).ru_maxrss` is the largest peak of all waited-for children, not a
//! sum, so it cannot be read as a delta in a process that runs many clients one after another. A
//! probe process with exactly one child reads exactly that child's peak.

use std::io::Write;
use std::os::fd::AsFd;
use std::path::Path;
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use nix::sys::resource::{Usage, UsageWho, getrusage};
use nix::sys::time::TimeValLike;

/// The line the probe prints on its standard output; the child's own output goes to standard error
/// so that this line stands alone.
pub(crate) const PREFIX: &str = "gphotos-bench-rss";

/// Runs `program args`, then prints `PREFIX elapsed_ns=N max_rss_kib=N cpu_us=N status=CODE`.
pub(crate) fn run(program: &Path, args: &[String]) -> ExitCode {
    let stdout = match std::io::stderr().as_fd().try_clone_to_owned() {
        Ok(fd) => Stdio::from(fd),
        Err(_) => Stdio::null(),
    };
    let started = Instant::now();
    let status = Command::new(program).args(args).stdout(stdout).status();
    let elapsed = started.elapsed();
    let status = match status {
        Ok(status) => status,
        Err(error) => {
            eprintln!(
                "gphotos-bench rss: cannot run {}: {error}",
                program.display()
            );
            return ExitCode::FAILURE;
        }
    };
    let usage = getrusage(UsageWho::RUSAGE_CHILDREN);
    let max_rss_kib = usage.as_ref().map_or(-1, Usage::max_rss);
    let cpu_us = usage.as_ref().map_or(-1, cpu_micros);
    // A child killed by a signal has no code; -1 marks it.
    let code = status.code().unwrap_or(-1);
    let mut out = std::io::stdout().lock();
    let _ = writeln!(
        out,
        "{PREFIX} elapsed_ns={} max_rss_kib={max_rss_kib} cpu_us={cpu_us} status={code}",
        elapsed.as_nanos()
    );
    let _ = out.flush();
    if status.success() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// User plus system CPU time, in microseconds.
pub(crate) fn cpu_micros(usage: &Usage) -> i64 {
    usage.user_time().num_microseconds() + usage.system_time().num_microseconds()
}

/// CPU time this process has used so far (all its threads, the in-process emulator's included).
pub(crate) fn own_cpu() -> Duration {
    getrusage(UsageWho::RUSAGE_SELF)
        .ok()
        .and_then(|usage| u64::try_from(cpu_micros(&usage)).ok())
        .map_or(Duration::ZERO, Duration::from_micros)
}
