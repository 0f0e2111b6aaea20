//! Opening the consent page in the user's browser, when there is one. Never required: the address
//! is always printed too.

use std::process::{Command, Stdio};

/// Tries to open `url` in a browser; returns whether an opener was started. The URL goes to the
/// opener as one argument, never through a shell.
pub fn open(url: &str) -> bool {
    let Some(mut command) = opener() else {
        return false;
    };
    command
        .arg(url)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    match command.spawn() {
        Ok(child) => {
            // The opener returns at once; its exit status is not worth waiting for.
            drop(child);
            true
        }
        Err(error) => {
            tracing::debug!(%error, "no browser opener");
            false
        }
    }
}

/// The platform's opener, or `None` where no graphical session is apparent (a server over SSH).
fn opener() -> Option<Command> {
    if let Some(browser) = std::env::var_os("BROWSER").filter(|b| !b.is_empty()) {
        return Some(Command::new(browser));
    }
    if cfg!(target_os = "macos") {
        return Some(Command::new("open"));
    }
    if cfg!(windows) {
        let mut command = Command::new("rundll32");
        command.arg("url.dll,FileProtocolHandler");
        return Some(command);
    }
    let graphical = ["DISPLAY", "WAYLAND_DISPLAY"]
        .iter()
        .any(|var| std::env::var_os(var).is_some_and(|v| !v.is_empty()));
    graphical.then(|| Command::new("xdg-open"))
}
