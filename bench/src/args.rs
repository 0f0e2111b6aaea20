//! Command-line arguments: the benchmark run, and the internal subcommands the run re-executes.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Benchmarks of gphotos-upload against a zero-copy ceiling client and curl, on the emulator in
/// sink mode.
#[derive(Parser)]
#[command(
    name = "gphotos-bench",
    version,
    about,
    args_conflicts_with_subcommands = true
)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Option<Command>,
    #[command(flatten)]
    pub(crate) run: RunArgs,
}

/// How the benchmark runs.
#[derive(Args, Debug, Clone)]
pub(crate) struct RunArgs {
    /// A smoke run: 256 MiB instead of 1 GiB, 100 small files, one repetition.
    #[arg(long)]
    pub(crate) quick: bool,
    /// Repetitions of each measurement; the table shows the median.
    #[arg(long, value_name = "N")]
    pub(crate) repeats: Option<usize>,
    /// Size of the large file in MiB.
    #[arg(long, value_name = "MIB")]
    pub(crate) big_mib: Option<u64>,
    /// Number of small files.
    #[arg(long, value_name = "N")]
    pub(crate) small_files: Option<usize>,
    /// Size of each small file in KiB.
    #[arg(long, value_name = "KIB", default_value_t = 256)]
    pub(crate) small_kib: u64,
    /// Number of small files in the distant workload (the first of the small files).
    #[arg(long, value_name = "N")]
    pub(crate) distant_files: Option<usize>,
    /// Simulated round trip of the distant workload: the emulator waits this long before every
    /// reply.
    #[arg(long, value_name = "MS", default_value_t = 20)]
    pub(crate) latency_ms: u64,
    /// Run only this workload.
    #[arg(long, value_enum)]
    pub(crate) only: Option<Workload>,
    /// The `gphotos-upload` CLI binary; by default the one next to this binary, built with the
    /// `cargo` that runs this benchmark when missing or stale.
    #[arg(long, value_name = "PATH")]
    pub(crate) cli: Option<PathBuf>,
    /// Leave the CLI out.
    #[arg(long)]
    pub(crate) no_cli: bool,
    /// Directory for the input files (default: a fresh temporary directory, deleted at the end).
    #[arg(long, value_name = "DIR")]
    pub(crate) workdir: Option<PathBuf>,
}

/// The workloads: the two of DESIGN.md section 5, and the small files over a simulated network.
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Workload {
    /// One large file (1 GiB).
    Big,
    /// Many small files (500 of 256 KiB).
    Small,
    /// Some of the small files (100) against an emulator that waits `--latency-ms` before every
    /// reply: where concurrency pays, as it does against Google, tens of milliseconds away.
    Distant,
}

/// Internal subcommands.
#[derive(Subcommand)]
pub(crate) enum Command {
    /// Runs PROGRAM, then prints its wall time and peak RSS (internal).
    #[command(hide = true)]
    Rss {
        /// The program to run.
        program: PathBuf,
        /// Its arguments.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Uploads files with one of the Rust clients (internal).
    #[command(hide = true)]
    Client(ClientArgs),
}

/// A Rust client run.
#[derive(Args, Debug)]
pub(crate) struct ClientArgs {
    /// Which client.
    #[arg(long, value_enum)]
    pub(crate) kind: ClientKind,
    /// The API root, `http://127.0.0.1:PORT/v1/`.
    #[arg(long)]
    pub(crate) endpoint: String,
    /// Uploads at once.
    #[arg(long, default_value_t = 1)]
    pub(crate) concurrency: usize,
    /// The files, uploaded in this order.
    #[arg(required = true)]
    pub(crate) files: Vec<PathBuf>,
}

/// The Rust clients the benchmark runs in child processes.
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ClientKind {
    /// Start request, then the whole file in one `upload, finalize` request with `sendfile`.
    Ceiling,
    /// `gphotos_upload_ureq::Client::upload_file`.
    Ureq,
    /// `gphotos_upload_async::Driver` with its hyper transport.
    Async,
}
