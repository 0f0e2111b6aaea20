//! `gphotos-upload emulator`: the Library API emulator in the foreground until Ctrl-C.

use std::io::Write;
use std::sync::mpsc;

use gphotos_emulator::Emulator;

use crate::args::EmulatorCommand;
use crate::failure::Failure;

/// Starts the emulator, prints where it listens, and serves until Ctrl-C (or SIGTERM).
///
/// # Errors
/// A usage failure for flags that make no valid configuration; a runtime failure when it cannot
/// listen.
pub fn run(command: EmulatorCommand) -> Result<(), Failure> {
    let config = command
        .emulator
        .into_config()
        .map_err(|e| Failure::usage(format!("emulator: {e}")))?;
    let latency = config.latency;
    let emulator = Emulator::start(config)
        .map_err(|e| Failure::failed(format!("emulator: cannot start: {e}")))?;
    let origin = format!("http://{}", emulator.addr());
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "base URL:  {}", emulator.base_url());
    let _ = writeln!(out, "token URI: {}", emulator.token_uri());
    let _ = writeln!(out, "auth URI:  {}", emulator.auth_uri());
    let _ = writeln!(out, "state:     {origin}/emulator/state");
    let _ = writeln!(out, "faults:    {origin}/emulator/faults");
    if !latency.is_zero() {
        let _ = writeln!(out, "latency:   {latency:?} before every API reply");
    }
    let _ = writeln!(
        out,
        "try:       GPHOTOS_ENDPOINT={} GPHOTOS_ACCESS_TOKEN=any gphotos-upload upload PHOTO.jpg",
        emulator.base_url()
    );
    let _ = out.flush();
    drop(out);
    tracing::info!(addr = %emulator.addr(), "emulator serving; Ctrl-C stops it");
    let (stop, stopped) = mpsc::channel();
    if let Err(error) = ctrlc::set_handler(move || {
        let _ = stop.send(());
    }) {
        eprintln!(
            "gphotos-upload emulator: cannot catch Ctrl-C ({error}); stored uploads stay in the temp dir"
        );
    }
    // Without a handler the sender is gone and recv returns at once: then serve until killed.
    if stopped.recv().is_err() {
        loop {
            std::thread::park();
        }
    }
    emulator.stop();
    Ok(())
}
