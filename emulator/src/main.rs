//! `gphotos-emulator`: runs the emulator in the foreground until Ctrl-C.

use std::io::Write;
use std::process::ExitCode;
use std::sync::mpsc;

use clap::Parser;
use gphotos_emulator::{Emulator, EmulatorArgs};

/// A local Google Photos Library API emulator with fault injection.
#[derive(Parser)]
#[command(name = "gphotos-emulator", version, about)]
struct Cli {
    #[command(flatten)]
    emulator: EmulatorArgs,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let config = match cli.emulator.into_config() {
        Ok(config) => config,
        Err(error) => {
            eprintln!("gphotos-emulator: {error}");
            return ExitCode::from(2);
        }
    };
    let latency = config.latency;
    let emulator = match Emulator::start(config) {
        Ok(emulator) => emulator,
        Err(error) => {
            eprintln!("gphotos-emulator: cannot start: {error}");
            return ExitCode::FAILURE;
        }
    };
    // Installed before the URLs are printed: whoever reads them may interrupt at once.
    let (stop, stopped) = mpsc::channel();
    if let Err(error) = ctrlc::set_handler(move || {
        let _ = stop.send(());
    }) {
        eprintln!(
            "gphotos-emulator: cannot catch Ctrl-C ({error}); stored uploads stay in the temp dir"
        );
    }
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
    let _ = out.flush();
    drop(out);
    // Without a handler the sender is gone and recv returns at once: then park for good.
    if stopped.recv().is_err() {
        loop {
            std::thread::park();
        }
    }
    emulator.stop();
    ExitCode::SUCCESS
}
