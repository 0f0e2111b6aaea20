//! The login and token refresh against the emulator's OAuth endpoints: a token that expires in the
//! middle of a run is refreshed from the token file and the run goes on.

use std::time::Duration;

use gphotos_emulator::{Config, Emulator, RequestKind};
use gphotos_upload::ClientSecret;
use gphotos_upload::oauth::{OAuthClient, Scope};
use gphotos_upload_ureq::oauth::{Exchanger, Login, load_token_file, save_token_file};
use gphotos_upload_ureq::{Client, Credentials, Endpoint, RetryPolicy, Timeouts};

fn quick_retry() -> RetryPolicy {
    RetryPolicy {
        initial: Duration::from_millis(10),
        max_delay: Duration::from_millis(50),
        throttle_floor: Duration::from_millis(10),
        max_attempts: 3,
        max_elapsed: Duration::from_secs(10),
    }
}

/// Plays the browser: follows the consent page's redirect to the login's listener.
fn browse(url: &str) {
    let agent = ureq::Agent::config_builder()
        .max_redirects(0)
        .http_status_as_error(false)
        .build()
        .new_agent();
    let consent = agent.get(url).call().expect("consent page");
    assert_eq!(consent.status(), 302);
    let location = consent.headers()["location"].to_str().unwrap().to_owned();
    let mut landing = agent
        .get(&location)
        .call()
        .expect("redirect to the listener");
    assert_eq!(landing.status(), 200);
    let page = landing.body_mut().read_to_string().unwrap();
    assert!(page.contains("Access granted"), "{page}");
}

#[test]
fn login_then_a_token_expiring_mid_run_is_refreshed_from_the_file() {
    let emu = Emulator::start(Config {
        granularity: 64 * 1024,
        ..Config::default()
    })
    .unwrap();
    let client = OAuthClient::installed("client-1", ClientSecret::new("shh"))
        .with_endpoints(&emu.auth_uri(), &emu.token_uri())
        .unwrap();
    let exchanger = Exchanger::new(quick_retry(), Timeouts::uniform(Duration::from_secs(5)));

    let login = Login::start(&client, &[Scope::AppendOnly]).unwrap();
    let url = login.authorization_url();
    let browser = std::thread::spawn(move || browse(&url));
    let token = login.finish(Duration::from_secs(10), &exchanger).unwrap();
    browser.join().unwrap();
    assert!(token.refresh_token.is_some());

    let dir = std::env::temp_dir().join(format!("gphotos-ureq-login-{}", std::process::id()));
    let path = dir.join("token.json");
    save_token_file(&path, &token).unwrap();
    let first = token.token.clone().unwrap();

    let api = Client::builder(
        Endpoint::parse(&emu.base_url()).unwrap(),
        Credentials::token_file_with(&path, exchanger).unwrap(),
    )
    .chunk_size(64 * 1024)
    .retry(quick_retry())
    .build()
    .unwrap();
    let bytes: Vec<u8> = (0..300_000u32).map(|i| i.to_le_bytes()[1]).collect();
    let upload = |name: &str| {
        api.upload_reader(
            std::io::Cursor::new(&bytes),
            300_000,
            "image/jpeg",
            Some(name),
        )
        .unwrap()
    };
    upload("x.jpg");
    // Session URLs take no bearer token, so the next start is where the expiry shows.
    emu.inject("start@1:expire-token".parse().unwrap()).unwrap();
    upload("y.jpg");

    let state = emu.inspect();
    assert_eq!(state.objects.len(), 2);
    assert!(state.objects.iter().all(|o| o.size == 300_000));
    assert_eq!(
        state
            .requests
            .iter()
            .filter(|r| r.status == Some(401))
            .count(),
        1,
        "one refusal, then the fresh token"
    );
    assert_eq!(
        state.requests_of(RequestKind::Token).count(),
        2,
        "code exchange, one refresh"
    );
    let saved = load_token_file(&path).unwrap();
    assert_ne!(
        saved.token.as_ref(),
        Some(&first),
        "the fresh token was written back"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_login_nobody_answers_times_out_with_advice() {
    let client = OAuthClient::installed("client-1", ClientSecret::new("shh"));
    let login = Login::start(&client, &[Scope::AppendOnly]).unwrap();
    assert!(login.redirect_uri().starts_with("http://127.0.0.1:"));
    let error = login
        .finish(Duration::from_millis(200), &Exchanger::default())
        .unwrap_err();
    assert!(error.to_string().contains("run the login again"), "{error}");
}
