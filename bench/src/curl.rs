//! `curl` as a client: a start request, then `curl -T FILE` with `upload, finalize`, the way
//! Google's guides show it. `-T` streams the file; `--data-binary @FILE` would load it into memory.

use std::process::Command;
use std::time::{Duration, Instant};

use crate::fixtures::Input;
use crate::measure::{self, ClientCommand, Sample};

/// Whether `curl` runs here, and its version line.
pub(crate) fn version() -> Option<String> {
    let output = Command::new("curl").arg("--version").output().ok()?;
    output.status.success().then(|| {
        String::from_utf8_lossy(&output.stdout)
            .lines()
            .next()
            .unwrap_or("curl")
            .split(" (")
            .next()
            .unwrap_or("curl")
            .to_owned()
    })
}

/// Uploads `input` with curl. Time is the sum of both curl processes; the peak RSS and CPU time are
/// the upload's (the start request is timed by this process, as it cannot be probed without its
/// output).
///
/// # Errors
/// A curl failure or a start reply without a session URL.
pub(crate) fn upload(
    probe: &std::path::Path,
    endpoint: &str,
    input: &Input,
) -> Result<Sample, String> {
    let started = Instant::now();
    let output = Command::new("curl")
        .args(["-sS", "--fail", "-D", "-", "-o", "/dev/null", "-X", "POST"])
        .args(["-H", "Authorization: Bearer bench"])
        .args(["-H", "X-Goog-Upload-Protocol: resumable"])
        .args(["-H", "X-Goog-Upload-Command: start"])
        .args(["-H", "X-Goog-Upload-Content-Type: video/mp4"])
        .args(["-H", &format!("X-Goog-Upload-Raw-Size: {}", input.size)])
        .arg(format!("{endpoint}uploads"))
        .output()
        .map_err(|e| format!("cannot run curl: {e}"))?;
    let start = Sample {
        elapsed: started.elapsed(),
        max_rss_kib: 0,
        client_cpu: Duration::ZERO,
        server_cpu: Duration::ZERO,
    };
    if !output.status.success() {
        return Err(format!(
            "curl's start request failed: {}",
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    let head = String::from_utf8_lossy(&output.stdout);
    let url = session_url(&head).ok_or("the start reply has no X-Goog-Upload-URL")?;
    let upload = measure::run(
        probe,
        &ClientCommand {
            program: "curl".into(),
            args: [
                "-sS",
                "--fail",
                "-o",
                "/dev/null",
                "-H",
                "Authorization: Bearer bench",
                "-H",
                "X-Goog-Upload-Command: upload, finalize",
                "-H",
                "X-Goog-Upload-Offset: 0",
                "-T",
            ]
            .into_iter()
            .map(Into::into)
            .chain([input.path.clone().into_os_string(), url.into()])
            .collect(),
            env: Vec::new(),
        },
    )?;
    Ok(start.then(upload))
}

/// `X-Goog-Upload-URL` in a header dump (`curl -D -`).
fn session_url(head: &str) -> Option<String> {
    head.lines().find_map(|line| {
        let (name, value) = line.split_once(':')?;
        name.trim()
            .eq_ignore_ascii_case("x-goog-upload-url")
            .then(|| value.trim().to_owned())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_session_url_comes_from_the_header_dump() {
        let head = "HTTP/1.1 200 OK\r\nx-goog-upload-url: http://h/v1/uploads?upload_id=1\r\n\r\n";
        assert_eq!(
            session_url(head).as_deref(),
            Some("http://h/v1/uploads?upload_id=1")
        );
        assert_eq!(session_url("HTTP/1.1 200 OK\r\n\r\n"), None);
    }
}
