//! Shared helpers of the end-to-end tests: the real binary, temporary directories, the emulator.

#![allow(dead_code)] // each test file uses its own subset

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use sha2::{Digest, Sha256};

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_gphotos-upload");

/// A fresh temporary directory, deleted when dropped.
pub fn tempdir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("gphotos-cli-test-")
        .tempdir()
        .expect("create a temp dir")
}

/// The binary with a clean environment: no credentials, config or state from the user running the
/// tests, and HOME pointing into `home`.
pub fn command(home: &Path) -> Command {
    let mut command = Command::new(BIN);
    command
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("XDG_STATE_HOME", home.join("state"))
        .env("XDG_CACHE_HOME", home.join("cache"))
        .stdin(Stdio::null());
    command
}

/// Runs `command` to its end (at most `limit`), killing it past that.
pub fn run(command: &mut Command, limit: Duration) -> Output {
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the binary");
    let started = std::time::Instant::now();
    loop {
        if child.try_wait().expect("poll the child").is_some() {
            return child.wait_with_output().expect("collect output");
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let output = child.wait_with_output().expect("collect output");
            panic!(
                "the binary ran longer than {limit:?}\nstdout:\n{}\nstderr:\n{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// stdout and stderr as text, for assertion messages.
pub fn show(output: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Writes `size` patterned bytes (distinct per `seed`) to `path`, creating parent directories.
pub fn write_media(path: &Path, size: usize, seed: u8) -> Vec<u8> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).expect("create parent");
    }
    let bytes: Vec<u8> = (0..size)
        .map(|i| (i.wrapping_mul(131) ^ (i >> 9)).to_le_bytes()[0] ^ seed)
        .collect();
    std::fs::write(path, &bytes).expect("write media");
    bytes
}

/// Lowercase hex SHA-256.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .fold(String::new(), |mut hex, b| {
            let _ = write!(hex, "{b:02x}");
            hex
        })
}

/// An HTTP agent that reports statuses as replies and follows no redirect.
pub fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .timeout_global(Some(Duration::from_secs(20)))
        .build()
        .new_agent()
}

/// A path in `dir`.
pub fn path_in(dir: &Path, name: &str) -> PathBuf {
    dir.join(name)
}

/// Retry waits short enough for tests (the hidden tuning flags).
pub const QUICK: [&str; 8] = [
    "--retry-initial",
    "10ms",
    "--retry-max-delay",
    "50ms",
    "--retry-floor",
    "10ms",
    "--timeout",
    "10s",
];

/// `gphotos-upload upload --json` against `emu` with a bare access token and quick retries; add
/// paths and options.
pub fn upload_command(home: &Path, emu: &gphotos_emulator::Emulator) -> Command {
    let mut command = command(home);
    command
        .env("GPHOTOS_ENDPOINT", emu.base_url())
        .env("GPHOTOS_ACCESS_TOKEN", "test-access-token")
        .args(["upload", "--json"])
        .args(QUICK);
    command
}

/// The JSON lines of `--json` output.
pub fn json_lines(output: &Output) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}")))
        .collect()
}

/// Asserts that the run ended with `code`, never panicked, and printed no secret the tests use.
pub fn assert_exit(output: &Output, code: i32) {
    let text = show(output);
    assert_eq!(output.status.code(), Some(code), "{text}");
    assert!(!text.contains("panicked"), "{text}");
    assert!(!text.contains("test-access-token"), "{text}");
    assert!(
        !text.contains("upload_id="),
        "no session URL query in output: {text}"
    );
}

/// Runs an upload command to its end within two minutes.
pub fn finish(command: &mut Command) -> Output {
    run(command, Duration::from_secs(120))
}

/// A token file issued by the emulator's own OAuth endpoints (consent, then code exchange), so
/// that refreshes go to the emulator's token endpoint. `expired` backdates its expiry.
pub fn emulator_token_file(emu: &gphotos_emulator::Emulator, path: &Path, expired: bool) {
    let http = agent();
    let client_id = "test-client.apps.googleusercontent.com";
    let scope = "https://www.googleapis.com/auth/photoslibrary.appendonly";
    let consent = http
        .get(emu.auth_uri())
        .query("client_id", client_id)
        .query("redirect_uri", "http://127.0.0.1:1")
        .query("response_type", "code")
        .query("scope", scope)
        .call()
        .expect("consent");
    let location = consent.headers()["location"].to_str().unwrap().to_owned();
    let code = location
        .split("code=")
        .nth(1)
        .and_then(|s| s.split('&').next())
        .expect("a code");
    let code = code.replace("%2F", "/");
    let mut reply = http
        .post(emu.token_uri())
        .send_form([
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("client_id", client_id),
            ("client_secret", "s"),
            ("redirect_uri", "http://127.0.0.1:1"),
        ])
        .expect("token exchange");
    assert_eq!(reply.status(), 200);
    let body: serde_json::Value =
        serde_json::from_str(&reply.body_mut().read_to_string().unwrap()).unwrap();
    let expiry = if expired {
        "2020-01-01T00:00:00Z"
    } else {
        "2099-01-01T00:00:00Z"
    };
    let file = serde_json::json!({
        "token": body["access_token"],
        "refresh_token": body["refresh_token"],
        "token_uri": emu.token_uri(),
        "client_id": client_id,
        "client_secret": "s",
        "scopes": [scope],
        "expiry": expiry,
    });
    std::fs::write(path, file.to_string()).unwrap();
}
