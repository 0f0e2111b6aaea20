//! `auth login`, `auth status` and `emulator` with the real binary, against the emulator's OAuth
//! endpoints: the consent comes back to the loopback listener, the code is exchanged, and the token
//! file is written with mode 0600; no token is ever printed.

mod support;

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use gphotos_emulator::{Config, Emulator};
use support::{agent, command, run, show, tempdir};

fn client_secrets(emu: &Emulator, dir: &Path) -> std::path::PathBuf {
    let path = dir.join("client_secret.json");
    let json = serde_json::json!({"installed": {
        "client_id": "test-client.apps.googleusercontent.com",
        "client_secret": "GOCSPX-test",
        "auth_uri": emu.auth_uri(),
        "token_uri": emu.token_uri(),
        "redirect_uris": ["http://localhost"],
    }});
    std::fs::write(&path, json.to_string()).unwrap();
    path
}

/// Starts `auth login` and returns it with the consent URL it printed and a channel of its
/// further stderr lines.
fn start_login(
    home: &Path,
    secrets: &Path,
    token: &Path,
    timeout: &str,
) -> (Child, String, mpsc::Receiver<String>) {
    let mut child = command(home)
        .args([
            "auth",
            "login",
            "--no-browser",
            "--timeout",
            timeout,
            "--client-secrets",
        ])
        .arg(secrets)
        .arg("--token-file")
        .arg(token)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (lines, received) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if lines.send(line).is_err() {
                break;
            }
        }
    });
    let url = loop {
        let line = received
            .recv_timeout(Duration::from_secs(30))
            .expect("login prints the consent URL");
        if line.trim_start().starts_with("http") {
            break line.trim().to_owned();
        }
    };
    (child, url, received)
}

fn finish(mut child: Child, rest: &mpsc::Receiver<String>) -> (Option<i32>, String) {
    let status = child.wait().unwrap();
    let mut out = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    let mut err = String::new();
    while let Ok(line) = rest.recv_timeout(Duration::from_secs(5)) {
        err.push_str(&line);
        err.push('\n');
    }
    (status.code(), format!("{out}{err}"))
}

#[test]
fn login_stores_a_private_token_that_status_describes() {
    let emu = Emulator::start(Config::default()).unwrap();
    let home = tempdir();
    let secrets = client_secrets(&emu, home.path());
    let token_path = home.path().join("tokens").join("token.json");
    let (child, url, rest) = start_login(home.path(), &secrets, &token_path, "60s");
    assert!(url.starts_with(&emu.auth_uri()), "{url}");
    assert!(url.contains("code_challenge_method=S256"), "{url}");

    // Play the browser: the consent page redirects to the loopback listener.
    let http = agent();
    let consent = http.get(&url).call().unwrap();
    assert_eq!(consent.status(), 302);
    let location = consent.headers()["location"].to_str().unwrap().to_owned();
    assert!(location.starts_with("http://127.0.0.1:"), "{location}");
    let mut landing = http.get(&location).call().unwrap();
    assert_eq!(landing.status(), 200);
    let page = landing.body_mut().read_to_string().unwrap();
    assert!(page.contains("close this tab"), "{page}");

    let (code, output) = finish(child, &rest);
    assert_eq!(code, Some(0), "{output}");
    assert!(output.contains("Signed in"), "{output}");

    let saved: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&token_path).unwrap()).unwrap();
    let access = saved["token"].as_str().expect("an access token");
    let refresh = saved["refresh_token"].as_str().expect("a refresh token");
    assert_eq!(saved["token_uri"], emu.token_uri().as_str());
    assert!(!output.contains(access) && !output.contains(refresh));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&token_path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    let status = run(
        command(home.path())
            .args(["auth", "status", "--token-file"])
            .arg(&token_path),
        Duration::from_secs(30),
    );
    let text = show(&status);
    assert_eq!(status.status.code(), Some(0), "{text}");
    assert!(text.contains("refresh:      yes"), "{text}");
    assert!(text.contains("appendonly"), "{text}");
    assert!(text.contains("valid until"), "{text}");
    assert!(!text.contains(access) && !text.contains(refresh), "{text}");
}

#[test]
fn a_forged_redirect_is_refused_and_a_declined_consent_fails() {
    let emu = Emulator::start(Config::default()).unwrap();
    let home = tempdir();
    let secrets = client_secrets(&emu, home.path());
    let token_path = home.path().join("token.json");
    let (child, url, rest) = start_login(home.path(), &secrets, &token_path, "60s");
    let state = url
        .split("state=")
        .nth(1)
        .and_then(|s| s.split('&').next())
        .unwrap()
        .to_owned();
    let port = url
        .split("redirect_uri=http%3A%2F%2F127.0.0.1%3A")
        .nth(1)
        .and_then(|s| s.split('&').next())
        .unwrap()
        .to_owned();
    let listener = format!("http://127.0.0.1:{port}");
    let http = agent();
    // Another site's forged redirect: refused, and the listener keeps waiting.
    let forged = http
        .get(format!("{listener}/?code=evil&state=forged"))
        .call()
        .unwrap();
    assert_eq!(forged.status(), 400);
    let favicon = http.get(format!("{listener}/favicon.ico")).call().unwrap();
    assert_eq!(favicon.status(), 404);
    // The user declines.
    let declined = http
        .get(format!("{listener}/?error=access_denied&state={state}"))
        .call()
        .unwrap();
    assert_eq!(declined.status(), 400);
    let (code, output) = finish(child, &rest);
    assert_eq!(code, Some(1), "{output}");
    assert!(output.contains("declined"), "{output}");
    assert!(!token_path.exists());
}

#[test]
fn login_gives_up_after_its_timeout() {
    let emu = Emulator::start(Config::default()).unwrap();
    let home = tempdir();
    let secrets = client_secrets(&emu, home.path());
    let (child, _url, rest) = start_login(home.path(), &secrets, &home.path().join("t.json"), "1s");
    let (code, output) = finish(child, &rest);
    assert_eq!(code, Some(1), "{output}");
    assert!(output.contains("no answer from the browser"), "{output}");
}

#[test]
fn login_refuses_a_file_that_is_not_a_client() {
    let home = tempdir();
    let bogus = home.path().join("client_secret.json");
    std::fs::write(&bogus, b"{\"token\": \"x\"}").unwrap();
    let output = run(
        command(home.path())
            .args(["auth", "login", "--no-browser", "--client-secrets"])
            .arg(&bogus),
        Duration::from_secs(30),
    );
    assert_eq!(output.status.code(), Some(2), "{}", show(&output));
}

#[test]
fn status_explains_missing_and_dead_tokens() {
    let home = tempdir();
    let missing = run(
        command(home.path()).args(["auth", "status"]),
        Duration::from_secs(30),
    );
    let text = show(&missing);
    assert_eq!(missing.status.code(), Some(1), "{text}");
    assert!(text.contains("auth login"), "{text}");
    // The default location is under the config directory.
    assert!(text.contains("gphotos-upload/token.json"), "{text}");

    let dead = home.path().join("dead.json");
    std::fs::write(
        &dead,
        br#"{"token": "ya29.secret-value", "expiry": "2020-01-01T00:00:00Z", "scopes": ["https://www.googleapis.com/auth/photoslibrary.appendonly"]}"#,
    )
    .unwrap();
    let output = run(
        command(home.path())
            .args(["auth", "status", "--token-file"])
            .arg(&dead),
        Duration::from_secs(30),
    );
    let text = show(&output);
    assert_eq!(output.status.code(), Some(1), "{text}");
    assert!(text.contains("refresh:      no"), "{text}");
    assert!(!text.contains("ya29.secret-value"), "{text}");
}

#[test]
fn the_emulator_subcommand_serves_until_stopped() {
    let home = tempdir();
    let mut child = command(home.path())
        .args(["emulator", "--port", "0", "--fault", "upload@2:status=503"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let base = lines
        .next()
        .unwrap()
        .unwrap()
        .strip_prefix("base URL:  ")
        .expect("the first line names the base URL")
        .to_owned();
    let origin = base.trim_end_matches("/v1/").to_owned();
    let mut reply = agent()
        .get(format!("{origin}/emulator/state"))
        .call()
        .unwrap();
    assert_eq!(reply.status(), 200);
    let state: serde_json::Value =
        serde_json::from_str(&reply.body_mut().read_to_string().unwrap()).unwrap();
    assert_eq!(state["faults"].as_array().map(Vec::len), Some(1));
    child.kill().unwrap();
    child.wait().unwrap();

    let bad = run(
        command(home.path()).args(["emulator", "--granularity", "0"]),
        Duration::from_secs(30),
    );
    assert_eq!(bad.status.code(), Some(2), "{}", show(&bad));
}

#[test]
fn the_emulator_subcommand_simulates_a_round_trip() {
    let latency = Duration::from_millis(300);
    let home = tempdir();
    let mut child = command(home.path())
        .args(["emulator", "--port", "0", "--latency", "300ms"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let printed: Vec<String> = BufReader::new(stdout)
        .lines()
        .map_while(Result::ok)
        .take_while(|line| !line.starts_with("try:"))
        .collect();
    let base = printed[0]
        .strip_prefix("base URL:  ")
        .expect("the first line names the base URL")
        .to_owned();
    assert!(
        printed.iter().any(|l| l.starts_with("latency:   300ms")),
        "{printed:?}"
    );
    let began = std::time::Instant::now();
    let reply = agent()
        .get(format!("{base}mediaItems/missing"))
        .header("Authorization", "Bearer any")
        .call()
        .unwrap();
    let took = began.elapsed();
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(reply.status(), 404);
    assert!(took >= latency, "{took:?}");

    let bad = run(
        command(home.path()).args(["emulator", "--latency", "300"]),
        Duration::from_secs(30),
    );
    assert_eq!(bad.status.code(), Some(2), "{}", show(&bad));
    assert!(show(&bad).contains("needs a unit"), "{}", show(&bad));
}
