//! `gphotos-upload`: upload photos and videos to Google Photos from the command line.
//!
//! Subcommands: `auth login` / `auth status` (OAuth installed-app flow, token.json), and `emulator`
//! (a local Library API server). Exit codes: 0 success, 1 failure, 2 usage error.

mod args;
mod auth;
mod emulator_cmd;
mod failure;
mod logging;
mod places;
mod units;

use std::process::ExitCode;

use clap::Parser;

use crate::args::{AuthCommand, Cli, Command};

fn main() -> ExitCode {
    let cli = Cli::parse();
    logging::init(cli.verbose);
    let outcome = match cli.command {
        Command::Auth {
            command: AuthCommand::Login(args),
        } => auth::login(&args),
        Command::Auth {
            command: AuthCommand::Status(args),
        } => auth::status(&args),
        Command::Emulator(args) => emulator_cmd::run(args),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("gphotos-upload: {failure}");
            failure.exit_code()
        }
    }
}
