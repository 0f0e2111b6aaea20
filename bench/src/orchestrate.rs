//! The benchmark run: inputs, then rounds in which every case runs once against a fresh emulator in
//! sink mode, each upload checked byte for byte (SHA-256) against what the server received.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

use gphotos_emulator::{Config, Emulator, Storage};

use crate::args::{ClientKind, RunArgs, Workload};
use crate::fixtures::{self, Input};
use crate::measure::{self, ClientCommand, Sample};
use crate::plan::{self, Available, Case, Contender};
use crate::report::{self, Setup};
use crate::{cli, curl, rss};

/// Sizes and repetitions after `--quick` and the explicit flags.
struct Settings {
    repeats: usize,
    big_bytes: u64,
    small_files: usize,
    small_bytes: u64,
    distant_files: usize,
    latency: Duration,
    workloads: Vec<Workload>,
}

impl Settings {
    fn from(args: &RunArgs) -> Result<Self, String> {
        let (repeats, big_mib, small_files, distant_files) = if args.quick {
            (1, 256, 100, 20)
        } else {
            (5, 1024, 500, 100)
        };
        let settings = Self {
            repeats: args.repeats.unwrap_or(repeats),
            big_bytes: args.big_mib.unwrap_or(big_mib) * 1024 * 1024,
            small_files: args.small_files.unwrap_or(small_files),
            small_bytes: args.small_kib * 1024,
            distant_files: args.distant_files.unwrap_or(distant_files),
            latency: Duration::from_millis(args.latency_ms),
            workloads: match args.only {
                Some(only) => vec![only],
                None => vec![Workload::Big, Workload::Small, Workload::Distant],
            },
        };
        if settings.repeats == 0
            || settings.big_bytes == 0
            || settings.small_files == 0
            || settings.distant_files == 0
            || settings.small_bytes == 0
        {
            return Err("repeats, sizes and file counts must be positive".into());
        }
        Ok(settings)
    }
}

/// Runs the benchmark and prints the table on standard output (progress goes to standard error).
///
/// # Errors
/// Inputs that cannot be written, a client that fails, or a server that ends up with other bytes
/// than were sent.
pub(crate) fn run(args: &RunArgs) -> Result<(), String> {
    let settings = Settings::from(args)?;
    let probe = std::env::current_exe().map_err(|e| format!("cannot find this binary: {e}"))?;
    let mut notes = Vec::new();
    let curl_version = curl::version();
    if curl_version.is_none() {
        notes.push("curl is not installed: its row is missing.".to_owned());
    }
    let cli = if args.no_cli {
        None
    } else {
        eprintln!("building the CLI ...");
        match cli::locate(args.cli.as_deref(), &probe) {
            Ok(path) => Some(path),
            Err(why) => {
                notes.push(format!("CLI not measured: {why}"));
                None
            }
        }
    };

    // Kept alive until the end of the run: dropping it deletes the inputs.
    let temp = match &args.workdir {
        Some(_) => None,
        None => Some(
            tempfile::Builder::new()
                .prefix("gphotos-bench-")
                .tempdir()
                .map_err(|e| format!("cannot make a temporary directory: {e}"))?,
        ),
    };
    let dir = temp.as_ref().map_or_else(
        || args.workdir.clone().unwrap_or_default(),
        |t| t.path().to_path_buf(),
    );
    let (big, small) = write_inputs(&settings, &dir)?;

    let cases = plan::cases(
        &settings.workloads,
        Available {
            curl: curl_version.is_some(),
            cli: cli.is_some(),
        },
    );
    let mut samples: Vec<Vec<Sample>> = vec![Vec::new(); cases.len()];
    let load_before = report::load_average();
    for round in 1..=settings.repeats {
        for (case, samples) in cases.iter().zip(&mut samples) {
            let (inputs, latency) = match case.workload {
                Workload::Big => (std::slice::from_ref(&big), Duration::ZERO),
                Workload::Small => (&small[..settings.small_files], Duration::ZERO),
                Workload::Distant => (&small[..settings.distant_files], settings.latency),
            };
            let journal = dir.join(format!(
                "journal-{round}-{}.jsonl",
                case_number(&cases, case)
            ));
            let sample = run_case(case, inputs, latency, &probe, cli.as_deref(), &journal)
                .map_err(|e| format!("{} ({:?}): {e}", case.contender.label(), case.workload))?;
            eprintln!(
                "round {round}/{}: {:?} {} x{}: {:.3} s, peak RSS {:.1} MiB, CPU client {:.2} s, server {:.2} s",
                settings.repeats,
                case.workload,
                case.contender.label(),
                case.concurrency,
                sample.elapsed.as_secs_f64(),
                kib_to_mib(sample.max_rss_kib),
                sample.client_cpu.as_secs_f64(),
                sample.server_cpu.as_secs_f64(),
            );
            samples.push(sample);
        }
    }
    let setup = Setup {
        repeats: settings.repeats,
        big_bytes: settings.big_bytes,
        small_files: settings.small_files,
        small_bytes: settings.small_bytes,
        distant_files: settings.distant_files,
        latency: settings.latency,
        curl: curl_version,
        notes,
        load: (load_before, report::load_average()),
    };
    print!("{}", report::render(&setup, &cases, &samples));
    Ok(())
}

/// The position of `case` in `cases`, to name per-run files.
fn case_number(cases: &[Case], case: &Case) -> usize {
    cases.iter().position(|c| c == case).unwrap_or(0)
}

fn kib_to_mib(kib: u64) -> f64 {
    // Peak RSS values are far below 2^52 KiB, where the conversion would round.
    #[allow(clippy::cast_precision_loss)]
    let kib = kib as f64;
    kib / 1024.0
}

fn write_inputs(settings: &Settings, dir: &Path) -> Result<(Input, Vec<Input>), String> {
    let failed = |path: &Path, e: std::io::Error| format!("cannot write {}: {e}", path.display());
    let big_path = dir.join("big.mp4");
    let big = if settings.workloads.contains(&Workload::Big) {
        eprintln!(
            "writing {} MiB to {} ...",
            settings.big_bytes >> 20,
            big_path.display()
        );
        fixtures::write(&big_path, settings.big_bytes, 1).map_err(|e| failed(&big_path, e))?
    } else {
        Input {
            path: big_path,
            size: 0,
            sha256: String::new(),
        }
    };
    let mut small = Vec::new();
    // The distant workload takes the first of the small files.
    let count = settings
        .workloads
        .iter()
        .map(|w| match w {
            Workload::Big => 0,
            Workload::Small => settings.small_files,
            Workload::Distant => settings.distant_files,
        })
        .max()
        .unwrap_or(0);
    if count > 0 {
        eprintln!(
            "writing {count} files of {} KiB ...",
            settings.small_bytes >> 10
        );
        let small_dir = dir.join("small");
        std::fs::create_dir_all(&small_dir).map_err(|e| failed(&small_dir, e))?;
        for i in 0..count {
            let path = small_dir.join(format!("photo-{i:04}.jpg"));
            let seed = 1000 + i as u64;
            small.push(
                fixtures::write(&path, settings.small_bytes, seed).map_err(|e| failed(&path, e))?,
            );
        }
    }
    Ok((big, small))
}

/// One case against its own emulator, then the check of what the emulator holds.
fn run_case(
    case: &Case,
    inputs: &[Input],
    latency: Duration,
    probe: &Path,
    cli: Option<&Path>,
    journal: &Path,
) -> Result<Sample, String> {
    let emulator = Emulator::start(Config {
        storage: Storage::Sink,
        latency,
        ..Config::default()
    })
    .map_err(|e| format!("cannot start the emulator: {e}"))?;
    let endpoint = emulator.base_url();
    let cpu_before = rss::own_cpu();
    let mut sample = match case.contender {
        Contender::Ceiling => measure::run(
            probe,
            &rust_client(probe, ClientKind::Ceiling, &endpoint, 1, inputs),
        )?,
        Contender::Ureq => measure::run(
            probe,
            &rust_client(probe, ClientKind::Ureq, &endpoint, case.concurrency, inputs),
        )?,
        Contender::Async => measure::run(
            probe,
            &rust_client(
                probe,
                ClientKind::Async,
                &endpoint,
                case.concurrency,
                inputs,
            ),
        )?,
        Contender::Curl => curl::upload(probe, &endpoint, &inputs[0])?,
        Contender::Cli => {
            let binary = cli.ok_or("the CLI is not available")?;
            let sample = measure::run(
                probe,
                &cli::command(binary, &endpoint, inputs, case.concurrency, journal),
            );
            // Deleted whatever the outcome: it holds upload tokens and session URLs.
            let _ = std::fs::remove_file(journal);
            sample?
        }
    };
    sample.server_cpu = rss::own_cpu().saturating_sub(cpu_before);
    verify(&emulator, inputs)?;
    emulator.stop();
    Ok(sample)
}

fn rust_client(
    probe: &Path,
    kind: ClientKind,
    endpoint: &str,
    concurrency: usize,
    inputs: &[Input],
) -> ClientCommand {
    let kind = match kind {
        ClientKind::Ceiling => "ceiling",
        ClientKind::Ureq => "ureq",
        ClientKind::Async => "async",
    };
    let mut args: Vec<OsString> = vec![
        "client".into(),
        "--kind".into(),
        kind.into(),
        "--endpoint".into(),
        endpoint.into(),
        "--concurrency".into(),
        concurrency.to_string().into(),
        "--".into(),
    ];
    args.extend(
        inputs
            .iter()
            .map(|i| PathBuf::into_os_string(i.path.clone())),
    );
    ClientCommand {
        program: probe.into(),
        args,
        env: Vec::new(),
    }
}

/// The emulator holds exactly the inputs: one object per file, same sizes, same SHA-256.
fn verify(emulator: &Emulator, inputs: &[Input]) -> Result<(), String> {
    let state = emulator.inspect();
    let mut held: Vec<(u64, &str)> = state
        .objects
        .iter()
        .map(|o| (o.size, o.sha256.as_str()))
        .collect();
    let mut sent: Vec<(u64, &str)> = inputs.iter().map(|i| (i.size, i.sha256.as_str())).collect();
    held.sort_unstable();
    sent.sort_unstable();
    if held == sent {
        Ok(())
    } else {
        Err(format!(
            "the server holds {} objects where {} files were uploaded, or their bytes differ",
            held.len(),
            sent.len()
        ))
    }
}
