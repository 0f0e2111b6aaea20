//! The Rust clients, each run in a child process of the benchmark.

mod ceiling;
mod hyper;
mod ureq;

use crate::args::{ClientArgs, ClientKind};

/// Uploads `args.files` with the client `args.kind`.
///
/// # Errors
/// The first failed upload, described.
pub(crate) fn run(args: &ClientArgs) -> Result<(), String> {
    if args.concurrency == 0 {
        return Err("the concurrency must be at least 1".into());
    }
    match args.kind {
        ClientKind::Ceiling => {
            if args.concurrency != 1 {
                return Err("the ceiling client sends one file after another".into());
            }
            ceiling::upload_all(&args.endpoint, &args.files)
        }
        ClientKind::Ureq => ureq::upload_all(&args.endpoint, &args.files, args.concurrency),
        ClientKind::Async => hyper::upload_all(&args.endpoint, &args.files, args.concurrency),
    }
}
