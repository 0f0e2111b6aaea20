//! The command line, as clap parses it.

use std::path::PathBuf;
use std::time::Duration;

use clap::{ArgAction, Args, Parser, Subcommand};
use gphotos_emulator::EmulatorArgs;
use gphotos_upload::GOOGLE_API_ROOT;
use gphotos_upload::oauth::Scope;

use crate::units::{parse_duration, parse_size};

/// Upload photos and videos to Google Photos: resumable, crash-safe, honest about failures.
#[derive(Debug, Parser)]
#[command(
    name = "gphotos-upload",
    version,
    about,
    propagate_version = true,
    args_override_self = true
)]
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
    /// Upload files and directories (recursively) to Google Photos.
    ///
    /// Rerunning the same command after a crash or an interruption resumes: created files are
    /// skipped, partial uploads continue where the server stands, and no item is created twice.
    Upload(UploadArgs),
    /// Sign in to Google (OAuth consent in the browser) and inspect the stored token.
    Auth {
        /// What to do.
        #[command(subcommand)]
        command: AuthCommand,
    },
    /// Run a local emulator of the Google Photos Library API in the foreground (for tests and
    /// trials; no Google account needed).
    Emulator(EmulatorCommand),
    /// Upload sample files (or the given ones) to an in-process emulator and prove that the stored
    /// bytes match. Needs no account and no network.
    Demo(DemoArgs),
}

/// `gphotos-upload upload`.
#[derive(Debug, Clone, Args)]
pub struct UploadArgs {
    /// Files and directories to upload. Directories are walked recursively; files that are not
    /// photos or videos (judged by their extension) are listed as skipped.
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,

    /// The Photos Library API root (an emulator's `http://127.0.0.1:PORT/v1/` for tests).
    #[arg(long, env = "GPHOTOS_ENDPOINT", default_value = GOOGLE_API_ROOT, value_name = "URL")]
    pub endpoint: String,

    /// Add the items to this existing album (its id; the album must have been created by this app).
    #[arg(long, value_name = "ID", conflicts_with = "album_title")]
    pub album: Option<String>,

    /// Add the items to a new album with this title. It is created once: reruns of the same command
    /// reuse it (the journal remembers its id).
    #[arg(long, value_name = "TITLE")]
    pub album_title: Option<String>,

    /// Description given to every uploaded item (under 1000 characters).
    #[arg(long, value_name = "TEXT")]
    pub description: Option<String>,

    /// Files uploaded at once.
    #[arg(long, value_name = "N", default_value_t = 4,
          value_parser = clap::value_parser!(u16).range(1..=64))]
    pub concurrency: u16,

    /// Bytes per upload request (suffixes K, M, G: 8M is 8 MiB); rounded down to the server's
    /// granularity (256 KiB at Google). Files up to this size go in one request.
    #[arg(long, value_name = "BYTES", default_value = "8M", value_parser = parse_size)]
    pub chunk_size: u64,

    /// The journal that makes reruns resume. Default: a file under the user's state directory
    /// named after the endpoint, the input paths and the album, so rerunning the same command
    /// finds it.
    #[arg(long, value_name = "FILE")]
    pub journal: Option<PathBuf>,

    /// Print one JSON object per input file on stdout:
    /// `{"path", "status": "created"|"failed"|"skipped", "media_item_id"?, "error"?}`.
    #[arg(long)]
    pub json: bool,

    /// Never draw the progress display (it is drawn only when stderr is a terminal anyway).
    #[arg(long)]
    pub no_progress: bool,

    /// The OAuth token (google-auth's token.json format, as written by `auth login`). Ignored when
    /// `GPHOTOS_ACCESS_TOKEN` holds a bare access token. Default: token.json in the user's config
    /// directory.
    #[arg(long, env = "GPHOTOS_TOKEN_FILE", value_name = "FILE")]
    pub token_file: Option<PathBuf>,

    /// Tuning for tests and unusual links: retries and timeouts.
    #[command(flatten)]
    pub tuning: Tuning,
}

/// Retry and timeout settings. Hidden from `--help`: the defaults follow Google's guidance, and
/// tests shorten them.
#[derive(Debug, Clone, Args)]
pub struct Tuning {
    /// Upper bound of the first retry wait (full jitter below it).
    #[arg(long, hide = true, value_name = "DURATION", default_value = "1s", value_parser = parse_duration)]
    pub retry_initial: Duration,
    /// Longest computed retry wait.
    #[arg(long, hide = true, value_name = "DURATION", default_value = "32s", value_parser = parse_duration)]
    pub retry_max_delay: Duration,
    /// Least wait after a 429 that names no `Retry-After`.
    #[arg(long, hide = true, value_name = "DURATION", default_value = "30s", value_parser = parse_duration)]
    pub retry_floor: Duration,
    /// Failures in a row before a request is given up.
    #[arg(long, hide = true, value_name = "N", default_value_t = 8)]
    pub retry_attempts: u32,
    /// Every network timeout (connect, stalled send, waiting for a reply); default: the adapter's
    /// (30 s to connect, 60 s for a stalled send, 300 s for a reply).
    #[arg(long, hide = true, value_name = "DURATION", value_parser = parse_duration)]
    pub timeout: Option<Duration>,
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

/// `gphotos-upload demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Files or directories to upload instead of the generated samples.
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,

    /// Files uploaded at once.
    #[arg(long, value_name = "N", default_value_t = 4,
          value_parser = clap::value_parser!(u16).range(1..=64))]
    pub concurrency: u16,

    /// Also print the per-file JSON lines of the upload on stdout.
    #[arg(long)]
    pub json: bool,
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
    fn album_flags_exclude_each_other() {
        let both = Cli::try_parse_from([
            "gphotos-upload",
            "upload",
            "--album",
            "a",
            "--album-title",
            "b",
            "x.jpg",
        ]);
        assert!(both.is_err());
    }

    #[test]
    fn upload_defaults() {
        let cli = Cli::try_parse_from(["gphotos-upload", "upload", "x.jpg"]).unwrap();
        let Command::Upload(args) = cli.command else {
            panic!("not upload")
        };
        assert_eq!(args.chunk_size, 8 * 1024 * 1024);
        assert_eq!(args.concurrency, 4);
        assert_eq!(args.tuning.retry_initial, Duration::from_secs(1));
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
