//! The progress display on stderr (bytes and files, rate, ETA), drawn only when stderr is a
//! terminal.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// A progress bar, or nothing.
#[derive(Debug)]
pub struct Progress {
    bar: Option<ProgressBar>,
    shown: u64,
}

impl Progress {
    /// A display for `total` bytes in `files` files; hidden unless `wanted` and stderr is a
    /// terminal.
    pub fn new(wanted: bool, total: u64, files: usize) -> Self {
        let bar = (wanted && std::io::stderr().is_terminal()).then(|| {
            let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
            let style = ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] [{wide_bar}] {bytes}/{total_bytes} \
                 {binary_bytes_per_sec} ETA {eta} {msg}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ");
            bar.set_style(style);
            bar.set_message(format!("0/{files} files"));
            bar.enable_steady_tick(Duration::from_millis(200));
            bar
        });
        Self { bar, shown: 0 }
    }

    /// Moves the display to `bytes` (never backwards: a re-sent chunk does not undo progress on
    /// screen) and `finished` of `files`.
    pub fn update(&mut self, bytes: u64, finished: usize, files: usize) {
        if let Some(bar) = &self.bar {
            if bytes > self.shown {
                self.shown = bytes;
                bar.set_position(bytes);
            }
            bar.set_message(format!("{finished}/{files} files"));
        }
    }

    /// Runs `print` with the bar hidden, so that lines do not mix with it.
    pub fn suspend(&self, print: impl FnOnce()) {
        match &self.bar {
            Some(bar) => bar.suspend(print),
            None => print(),
        }
    }

    /// Removes the bar from the screen.
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
