//! The table: medians over the rounds, rates, the ratio to the ceiling client, peak RSS.

use std::fmt::Write as _;
use std::time::Duration;

use crate::args::Workload;
use crate::measure::Sample;
use crate::plan::{Case, Contender};

/// What the run was, for the header of the report.
pub(crate) struct Setup {
    pub(crate) repeats: usize,
    pub(crate) big_bytes: u64,
    pub(crate) small_files: usize,
    pub(crate) small_bytes: u64,
    /// Files in the distant workload, and its simulated round trip.
    pub(crate) distant_files: usize,
    pub(crate) latency: Duration,
    pub(crate) curl: Option<String>,
    pub(crate) notes: Vec<String>,
    /// `/proc/loadavg` before and after the measurements: other work on the machine skews figures.
    pub(crate) load: (String, String),
}

/// The report as Markdown: a few lines on the machine and the run, then the table.
pub(crate) fn render(setup: &Setup, cases: &[Case], samples: &[Vec<Sample>]) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "- machine: {}", machine());
    let _ = writeln!(
        out,
        "- inputs: 1 file of {} MiB; {} files of {} KiB. Emulator in sink mode on 127.0.0.1 (SHA-256 of every byte); \
         for the distant workload ({} of the small files) it waits {} ms before every reply.",
        setup.big_bytes >> 20,
        setup.small_files,
        setup.small_bytes >> 10,
        setup.distant_files,
        setup.latency.as_millis(),
    );
    let _ = writeln!(
        out,
        "- each figure: median of {} run(s), runs interleaved round by round; \"range\" is the slowest and fastest run. \
         MB = 10^6 bytes; peak RSS is the client process's largest over the runs; client and server CPU are \
         user + system CPU-seconds of the client process and of the emulator (median).",
        setup.repeats
    );
    let _ = writeln!(
        out,
        "- load average (1, 5, 15 min) before: {}; after: {}",
        setup.load.0, setup.load.1
    );
    if let Some(curl) = &setup.curl {
        let _ = writeln!(out, "- curl: {curl}");
    }
    for note in &setup.notes {
        let _ = writeln!(out, "- note: {note}");
    }
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "| workload | client | concurrency | median time | MB/s | range MB/s | files/s | x ceiling | peak RSS | client CPU | server CPU |"
    );
    let _ = writeln!(
        out,
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    );
    for (case, runs) in cases.iter().zip(samples) {
        let Some(typical) = median(runs) else {
            continue;
        };
        let (bytes, files) = setup.volume(case.workload);
        let ceiling = cases
            .iter()
            .position(|c| c.workload == case.workload && c.contender == Contender::Ceiling)
            .and_then(|i| median(&samples[i]));
        let ratio = ceiling.map_or_else(
            || "-".to_owned(),
            |c| format!("{:.2}", secs(c) / secs(typical)),
        );
        let fastest = runs.iter().map(|s| s.elapsed).min().unwrap_or(typical);
        let slowest = runs.iter().map(|s| s.elapsed).max().unwrap_or(typical);
        let peak = runs.iter().map(|s| s.max_rss_kib).max().unwrap_or(0);
        let files_per_s = match case.workload {
            Workload::Big => "-".to_owned(),
            Workload::Small | Workload::Distant => format!("{:.0}", count(files) / secs(typical)),
        };
        let workload = setup.label(case.workload);
        let _ = writeln!(
            out,
            "| {workload} | {} | {} | {:.3} s | {:.0} | {:.0}-{:.0} | {files_per_s} | {ratio} | {:.1} MiB | {:.2} s | {:.2} s |",
            case.contender.label(),
            case.concurrency,
            secs(typical),
            mb_per_s(bytes, typical),
            mb_per_s(bytes, slowest),
            mb_per_s(bytes, fastest),
            count(usize::try_from(peak).unwrap_or(usize::MAX)) / 1024.0,
            secs(median_by(runs, |s| s.client_cpu).unwrap_or_default()),
            secs(median_by(runs, |s| s.server_cpu).unwrap_or_default()),
        );
    }
    out.push_str(&speedups(setup, cases, samples));
    out
}

/// For each client measured at concurrency 1 and 8 on the same workload: how much faster 8 is.
fn speedups(setup: &Setup, cases: &[Case], samples: &[Vec<Sample>]) -> String {
    let typical = |workload, contender, concurrency| {
        let i = cases.iter().position(|c| {
            c.workload == workload && c.contender == contender && c.concurrency == concurrency
        })?;
        median(&samples[i])
    };
    let mut rows = String::new();
    for case in cases.iter().filter(|c| c.concurrency == 8) {
        let (Some(one), Some(eight)) = (
            typical(case.workload, case.contender, 1),
            typical(case.workload, case.contender, 8),
        ) else {
            continue;
        };
        let _ = writeln!(
            rows,
            "| {} | {} | {:.2} |",
            setup.label(case.workload),
            case.contender.label(),
            secs(one) / secs(eight)
        );
    }
    if rows.is_empty() {
        return rows;
    }
    format!("\n| workload | client | concurrency 8 vs 1 (x faster) |\n|---|---|---:|\n{rows}")
}

impl Setup {
    /// Bytes and files of one run of `workload`.
    fn volume(&self, workload: Workload) -> (u64, usize) {
        let files = match workload {
            Workload::Big => return (self.big_bytes, 1),
            Workload::Small => self.small_files,
            Workload::Distant => self.distant_files,
        };
        (self.small_bytes * files as u64, files)
    }

    /// The workload's name in the tables.
    fn label(&self, workload: Workload) -> String {
        let (_, files) = self.volume(workload);
        match workload {
            Workload::Big => format!("1 x {} MiB", self.big_bytes >> 20),
            Workload::Small => format!("{files} x {} KiB", self.small_bytes >> 10),
            Workload::Distant => format!(
                "{files} x {} KiB, {} ms RTT",
                self.small_bytes >> 10,
                self.latency.as_millis()
            ),
        }
    }
}

/// The median wall time.
pub(crate) fn median(samples: &[Sample]) -> Option<Duration> {
    median_by(samples, |s| s.elapsed)
}

/// The median of one measure of the samples (the mean of the middle two for an even count).
fn median_by(samples: &[Sample], measure: impl Fn(&Sample) -> Duration) -> Option<Duration> {
    let mut times: Vec<Duration> = samples.iter().map(measure).collect();
    times.sort_unstable();
    let mid = times.len() / 2;
    match times.len() {
        0 => None,
        n if n % 2 == 1 => Some(times[mid]),
        _ => Some((times[mid - 1] + times[mid]) / 2),
    }
}

fn secs(duration: Duration) -> f64 {
    duration.as_secs_f64().max(1e-9)
}

/// Counts in the table are far below 2^52, where `f64` would round.
#[allow(clippy::cast_precision_loss)]
fn count(n: usize) -> f64 {
    n as f64
}

#[allow(clippy::cast_precision_loss)]
fn mb_per_s(bytes: u64, duration: Duration) -> f64 {
    bytes as f64 / 1e6 / secs(duration)
}

/// The three load averages of `/proc/loadavg`.
pub(crate) fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg").map_or_else(
        |_| "unknown".into(),
        |l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "),
    )
}

/// CPU model, cores and kernel, from `/proc` (Linux).
fn machine() -> String {
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines().find_map(|l| {
                l.strip_prefix("model name")?
                    .split_once(':')
                    .map(|(_, v)| v.trim().to_owned())
            })
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, std::num::NonZero::get);
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").map_or_else(
        |_| "unknown kernel".into(),
        |k| format!("Linux {}", k.trim()),
    );
    format!("{model}, {cores} cores, {kernel}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(ms: u64) -> Sample {
        Sample {
            elapsed: Duration::from_millis(ms),
            max_rss_kib: ms,
            client_cpu: Duration::from_millis(ms / 2),
            server_cpu: Duration::from_millis(ms / 4),
        }
    }

    /// 1 GiB, 500 small files, 100 of them at 20 ms.
    fn setup() -> Setup {
        Setup {
            repeats: 1,
            big_bytes: 1 << 30,
            small_files: 500,
            small_bytes: 256 << 10,
            distant_files: 100,
            latency: Duration::from_millis(20),
            curl: None,
            notes: vec![],
            load: (String::new(), String::new()),
        }
    }

    #[test]
    fn median_of_odd_and_even_counts() {
        assert_eq!(median(&[]), None);
        assert_eq!(
            median(&[sample(9), sample(1), sample(5)]),
            Some(Duration::from_millis(5))
        );
        assert_eq!(
            median(&[sample(4), sample(2)]),
            Some(Duration::from_millis(3))
        );
    }

    #[test]
    fn ratios_are_against_the_ceiling_of_the_same_workload() {
        let cases = [
            Case {
                workload: Workload::Big,
                contender: Contender::Ceiling,
                concurrency: 1,
            },
            Case {
                workload: Workload::Big,
                contender: Contender::Ureq,
                concurrency: 1,
            },
            Case {
                workload: Workload::Small,
                contender: Contender::Ceiling,
                concurrency: 1,
            },
            Case {
                workload: Workload::Small,
                contender: Contender::Ureq,
                concurrency: 8,
            },
        ];
        let samples = vec![
            vec![sample(1000)],
            vec![sample(2000)],
            vec![sample(400)],
            vec![sample(100)],
        ];
        let table = render(&setup(), &cases, &samples);
        let rows: Vec<&str> = table
            .lines()
            .filter(|l| l.starts_with("| "))
            .skip(1)
            .collect();
        assert_eq!(rows.len(), 4, "{table}");
        assert!(rows[1].contains("| 0.50 |"), "{}", rows[1]);
        assert!(rows[3].contains("| 4.00 |"), "{}", rows[3]);
        assert!(rows[3].contains("| 5000 |"), "{}", rows[3]);
    }

    #[test]
    fn concurrency_gains_are_per_client_and_workload() {
        let case = |workload, contender, concurrency| Case {
            workload,
            contender,
            concurrency,
        };
        let cases = [
            case(Workload::Distant, Contender::Ceiling, 1),
            case(Workload::Distant, Contender::Ureq, 1),
            case(Workload::Distant, Contender::Cli, 1),
            case(Workload::Distant, Contender::Ureq, 8),
            case(Workload::Distant, Contender::Cli, 8),
        ];
        let samples = vec![
            vec![sample(4000)],
            vec![sample(4000)],
            vec![sample(2000)],
            vec![sample(800)],
            vec![sample(500)],
        ];
        let table = render(&setup(), &cases, &samples);
        assert!(
            table.contains("| 100 x 256 KiB, 20 ms RTT | ureq adapter (library) | 5.00 |"),
            "{table}"
        );
        assert!(
            table.contains("| 100 x 256 KiB, 20 ms RTT | gphotos-upload CLI | 4.00 |"),
            "{table}"
        );
        // The distant CLI row at concurrency 8: 100 files in 0.5 s, 8x its own ceiling.
        assert!(
            table.contains("| gphotos-upload CLI | 8 | 0.500 s |")
                && table.contains("| 200 | 8.00 |"),
            "{table}"
        );
    }
}
