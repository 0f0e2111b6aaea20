//! `gphotos-bench`: measures gphotos-upload's clients side by side with the fastest client the
//! emulator can serve (a zero-copy `sendfile` client) and with `curl -T`, in one run, against the
//! emulator in sink mode on loopback.
//!
//! ```text
//! cargo run --release -p gphotos-bench            # the full run (BENCHMARKS.md)
//! cargo run --release -p gphotos-bench -- --quick # a smoke run with smaller inputs
//! ```
//!
//! Every client runs as a child process of this program, so that its peak RSS is its own; the
//! emulator runs inside this program. The binary re-executes itself for the Rust clients (`client`)
//! and for the RSS probe (`rss`); those subcommands are internal.

mod args;
mod cli;
mod clients;
mod curl;
mod fixtures;
mod measure;
mod orchestrate;
mod plan;
mod report;
mod rss;

use std::process::ExitCode;

use clap::Parser;

use crate::args::{Cli, Command};

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Some(Command::Rss { program, args }) => rss::run(&program, &args),
        Some(Command::Client(client)) => match clients::run(&client) {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => {
                eprintln!("gphotos-bench client: {error}");
                ExitCode::FAILURE
            }
        },
        None => match orchestrate::run(&cli.run) {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => {
                eprintln!("gphotos-bench: {error}");
                ExitCode::FAILURE
            }
        },
    }
}
