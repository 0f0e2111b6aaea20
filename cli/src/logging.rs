//! Log output on stderr with `tracing`: quiet by default, `-v`/`-vv`/`-vvv` or `RUST_LOG` for more.
//!
//! What is logged never holds a token, a session URL or an upload token: the core's types redact
//! them in `Debug`, and the adapter's errors never quote them. ureq logs full request URLs (session
//! URLs included) at trace level, so ureq is held at `info` unless `RUST_LOG` names it explicitly.

use tracing_subscriber::EnvFilter;

/// Installs the subscriber. `verbosity` counts `-v` flags.
pub fn init(verbosity: u8) {
    let filter = match std::env::var("RUST_LOG") {
        Ok(directives) if !directives.trim().is_empty() => EnvFilter::new(directives),
        _ => {
            let level = match verbosity {
                0 => "warn",
                1 => "info",
                2 => "debug",
                _ => "trace",
            };
            EnvFilter::new(format!(
                "{level},ureq=info,ureq_proto=info,rustls=warn,gphotos_emulator={level}"
            ))
        }
    };
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    // A second install (tests call into the commands repeatedly) keeps the first one.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(ansi)
        .with_target(verbosity >= 2)
        .try_init();
}
