//! The command line, as clap parses it.

use std::path::PathBuf;
use std::time::Duration;

use clap::{ArgAction, Args, Parser, Subcommand};
use gphotos_emulator::EmulatorArgs;
use gphotos_upload::oauth::Scope;

use crate::units::parse_duration;

/// Upload photos and videos to Google Photos: resumable, crash-safe, honest about failures.
#[derive(Debug, Parser)]
#[command(name = "gphotos-upload", version, about, propagate_version = true)]
pub struct Cli {
    /// More log output on stderr (-v: info, -vv: debug, -vvv: trace). `RUST_LOG` overrides.
    #[arg(short, long, action = ArgAction::Count, global = true)]
    pub verbose: u8,

    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Sign in to Google (OAuth consent in the browser) and inspect the stored token.
    Auth {
        /// What to do.
        #[command(subcommand)]
        command: AuthCommand,
    },
    /// Run a local emulator of the Google Photos Library API in the foreground (for tests and
    /// trials; no Google account needed).
    Emulator(EmulatorCommand),
}

/// `gphotos-upload auth ...`.
#[derive(Debug, Subcommand)]
pub enum AuthCommand {
    /// Sign in: opens Google's consent page (or prints its address), waits for the browser to come
    /// back to a listener on 127.0.0.1, and stores the token (mode 0600).
    Login(LoginArgs),
    /// Show which token file is used, its scopes and expiry, and whether it can be refreshed.
    /// Never prints a token.
    Status(StatusArgs),
}

/// `gphotos-upload auth login`.
#[derive(Debug, Args)]
pub struct LoginArgs {
    /// The OAuth client downloaded from Google Cloud (APIs & Services > Credentials > OAuth client
    /// ID > Desktop app > Download JSON).
    #[arg(long, value_name = "FILE", env = "GPHOTOS_CLIENT_SECRETS")]
    pub client_secrets: PathBuf,

    /// Where to store the token. Default: token.json in the user's config directory.
    #[arg(long, env = "GPHOTOS_TOKEN_FILE", value_name = "FILE")]
    pub token_file: Option<PathBuf>,

    /// Port of the listener on 127.0.0.1 that receives the consent redirect (0: any free port).
    #[arg(long, default_value_t = 0)]
    pub port: u16,

    /// Do not try to open a browser; only print the address to open.
    #[arg(long)]
    pub no_browser: bool,

    /// How long to wait for the browser to come back.
    #[arg(long, value_name = "DURATION", default_value = "5m", value_parser = parse_duration)]
    pub timeout: Duration,

    /// Scopes to ask for (repeatable): appendonly, readonly.appcreateddata, edit.appcreateddata.
    #[arg(long = "scope", value_name = "SCOPE", default_values = ["appendonly", "readonly.appcreateddata"])]
    pub scopes: Vec<Scope>,
}

/// `gphotos-upload auth status`.
#[derive(Debug, Args)]
pub struct StatusArgs {
    /// The token file to describe. Default: token.json in the user's config directory.
    #[arg(long, env = "GPHOTOS_TOKEN_FILE", value_name = "FILE")]
    pub token_file: Option<PathBuf>,
}

/// `gphotos-upload emulator`.
#[derive(Debug, Args)]
pub struct EmulatorCommand {
    /// The emulator's settings and fault rules.
    #[command(flatten)]
    pub emulator: EmulatorArgs,
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn scopes_parse_by_short_name() {
        let cli = Cli::try_parse_from([
            "gphotos-upload",
            "auth",
            "login",
            "--client-secrets",
            "c.json",
            "--scope",
            "appendonly",
        ])
        .unwrap();
        let Command::Auth {
            command: AuthCommand::Login(login),
        } = cli.command
        else {
            panic!("not login")
        };
        assert_eq!(login.scopes, vec![Scope::AppendOnly]);
    }
}
