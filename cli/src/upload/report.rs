//! What the user reads: one line (or one JSON object) per input file on stdout, and a closing
//! summary on stderr.

use std::fmt::Write as _;
use std::io::Write as _;
use std::time::{Duration, Instant};

use serde::Serialize;

use super::progress::Progress;
use crate::units;

/// What became of one input file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    /// The media item exists.
    Created {
        /// Its id.
        media_item_id: String,
        /// An earlier run created it; nothing was sent this time.
        earlier: bool,
    },
    /// Not created; the reason says what to do. A rerun tries again.
    Failed(String),
    /// Most likely created, but unconfirmed; never uploaded again (shown as failed).
    Unconfirmed(String),
    /// Not a photo or video.
    Skipped(String),
}

/// One finished input.
#[derive(Debug, Clone)]
pub struct FileResult {
    /// The path as the user would write it.
    pub path: String,
    /// Its outcome.
    pub status: Status,
}

/// The JSON shape of one line of `--json` output.
#[derive(Serialize)]
struct JsonLine<'a> {
    path: &'a str,
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    media_item_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'a str>,
}

/// Collects outcomes and prints each as it comes.
#[derive(Debug)]
pub struct Report {
    json: bool,
    started: Instant,
    results: Vec<FileResult>,
}

impl Report {
    /// A report printing JSON lines (`json`) or plain lines.
    pub fn new(json: bool) -> Self {
        Self {
            json,
            started: Instant::now(),
            results: Vec::new(),
        }
    }

    /// Records and prints the outcome of `path`.
    pub fn file(&mut self, progress: &Progress, path: &str, status: Status) {
        let line = if self.json {
            let (status_name, media_item_id, error) = match &status {
                Status::Created { media_item_id, .. } => {
                    ("created", Some(media_item_id.as_str()), None)
                }
                Status::Failed(error) | Status::Unconfirmed(error) => {
                    ("failed", None, Some(error.as_str()))
                }
                Status::Skipped(reason) => ("skipped", None, Some(reason.as_str())),
            };
            serde_json::to_string(&JsonLine {
                path,
                status: status_name,
                media_item_id,
                error,
            })
            .unwrap_or_default()
        } else {
            match &status {
                Status::Created {
                    media_item_id,
                    earlier: false,
                } => format!("created  {path}  ({media_item_id})"),
                Status::Created {
                    media_item_id,
                    earlier: true,
                } => format!("created  {path}  ({media_item_id}, by an earlier run)"),
                Status::Failed(error) | Status::Unconfirmed(error) => {
                    format!("failed   {path}: {error}")
                }
                Status::Skipped(reason) => format!("skipped  {path}: {reason}"),
            }
        };
        progress.suspend(|| {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "{line}");
            let _ = out.flush();
        });
        self.results.push(FileResult {
            path: path.to_owned(),
            status,
        });
    }

    /// Every outcome so far, in the order they came.
    pub fn results(&self) -> &[FileResult] {
        &self.results
    }

    /// Whether no file failed.
    pub fn all_created(&self) -> bool {
        !self
            .results
            .iter()
            .any(|r| matches!(r.status, Status::Failed(_) | Status::Unconfirmed(_)))
    }

    /// Whether a rerun would try some file again.
    pub fn retryable(&self) -> bool {
        self.results
            .iter()
            .any(|r| matches!(r.status, Status::Failed(_)))
    }

    /// The closing summary for stderr: counts, bytes, time and rate.
    pub fn summary(&self, bytes_sent: u64) -> String {
        let count = |f: fn(&Status) -> bool| self.results.iter().filter(|r| f(&r.status)).count();
        let created = count(|s| matches!(s, Status::Created { earlier: false, .. }));
        let earlier = count(|s| matches!(s, Status::Created { earlier: true, .. }));
        let failed = count(|s| matches!(s, Status::Failed(_) | Status::Unconfirmed(_)));
        let skipped = count(|s| matches!(s, Status::Skipped(_)));
        let elapsed = self.started.elapsed();
        let mut text = format!("{created} created");
        if earlier > 0 {
            let _ = write!(text, ", {earlier} already created by an earlier run");
        }
        let _ = write!(
            text,
            ", {failed} failed, {skipped} skipped; {} of media created in {} ({})",
            units::bytes(bytes_sent),
            units::duration(elapsed),
            units::rate(bytes_sent, elapsed.max(Duration::from_millis(1)))
        );
        text
    }
}
