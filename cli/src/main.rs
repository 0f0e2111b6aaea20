//! `gphotos-upload`: upload photos and videos to Google Photos from the command line.
//!
//! Subcommands: `upload` (resumable, crash-safe, many files), `auth login` / `auth status` (OAuth
//! installed-app flow, token.json), `emulator` (a local Library API server) and `demo` (the upload
//! path against an in-process emulator). Exit codes: 0 success, 1 failure, 2 usage error.

mod args;
mod auth;
mod demo;
mod emulator_cmd;
mod failure;
mod logging;
mod places;
mod units;
mod upload;

use std::process::ExitCode;

use clap::Parser;

use crate::args::{AuthCommand, Cli, Command};
use crate::failure::Failure;

fn main() -> ExitCode {
    let cli = Cli::parse();
    logging::init(cli.verbose);
    let outcome = match cli.command {
        Command::Upload(args) => upload::run(&args).map(|outcome| outcome.all_created),
        Command::Auth {
            command: AuthCommand::Login(args),
        } => auth::login(&args).map(|()| true),
        Command::Auth {
            command: AuthCommand::Status(args),
        } => auth::status(&args).map(|()| true),
        Command::Emulator(args) => emulator_cmd::run(args).map(|()| true),
        Command::Demo(args) => demo::run(&args),
    };
    match outcome {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(failure) => {
            eprintln!("gphotos-upload: {failure}");
            exit_code(&failure)
        }
    }
}

fn exit_code(failure: &Failure) -> ExitCode {
    failure.exit_code()
}
