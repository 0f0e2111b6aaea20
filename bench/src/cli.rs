//! The `gphotos-upload` command-line tool as a client: found next to this binary, after asking the
//! `cargo` that runs the benchmark to build it (a no-op when it is fresh).

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::fixtures::Input;
use crate::measure::ClientCommand;

/// The CLI's binary name.
const BINARY: &str = "gphotos-upload";

/// The CLI binary to measure, or why there is none.
///
/// # Errors
/// A message for the report: an explicit path that does not exist, or a build that failed.
pub(crate) fn locate(explicit: Option<&Path>, probe: &Path) -> Result<PathBuf, String> {
    if let Some(path) = explicit {
        return if path.is_file() {
            Ok(path.to_path_buf())
        } else {
            Err(format!("--cli {} is not a file", path.display()))
        };
    }
    // Under `cargo run`, cargo names itself in CARGO: build the CLI with the same toolchain, profile
    // and target directory, so the binary next to ours is never stale.
    if let Some(cargo) = std::env::var_os("CARGO") {
        let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let output = Command::new(cargo)
            .current_dir(&workspace)
            .args(["build", "--release", "--workspace", "--bin", BINARY])
            .output()
            .map_err(|e| format!("cannot run cargo to build the CLI: {e}"))?;
        if !output.status.success() {
            let stderr = String::from_utf8_lossy(&output.stderr);
            let last = stderr.lines().rev().find(|l| !l.trim().is_empty());
            return Err(format!(
                "the CLI did not build: {}",
                last.unwrap_or("cargo failed").trim()
            ));
        }
    }
    let sibling = probe.with_file_name(BINARY);
    if sibling.is_file() {
        Ok(sibling)
    } else {
        Err(format!(
            "no {BINARY} binary next to {}; build it with `cargo build --release --bin {BINARY}` or pass --cli",
            probe.display()
        ))
    }
}

/// The CLI uploading `inputs` with `concurrency` uploads at once, keeping its journal at `journal`
/// (a path of its own for each run: a journal left by an earlier run would make the CLI skip the
/// files as already created).
pub(crate) fn command(
    binary: &Path,
    endpoint: &str,
    inputs: &[Input],
    concurrency: usize,
    journal: &Path,
) -> ClientCommand {
    let mut args: Vec<std::ffi::OsString> = vec![
        "upload".into(),
        "--endpoint".into(),
        endpoint.into(),
        "--concurrency".into(),
        concurrency.to_string().into(),
        "--no-progress".into(),
        "--journal".into(),
        journal.into(),
        "--".into(),
    ];
    args.extend(inputs.iter().map(|i| i.path.clone().into_os_string()));
    ClientCommand {
        program: binary.into(),
        args,
        env: vec![("GPHOTOS_ACCESS_TOKEN", "bench".to_owned())],
    }
}
