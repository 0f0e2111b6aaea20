//! `gphotos-upload auth login`: the installed-app consent flow with PKCE on a loopback listener.

use std::net::TcpListener;
use std::path::Path;

use gphotos_upload::oauth::{Consent, OAuthClient, Scope};
use gphotos_upload_ureq::oauth::{Exchanger, save_token_file};

use super::browser;
use super::listener::{WaitError, wait_for_code};
use crate::args::LoginArgs;
use crate::failure::Failure;
use crate::places::default_token_file;
use crate::units;

/// Signs in and stores the token.
///
/// # Errors
/// A usage failure for an unreadable client file; a runtime failure when the consent or the code
/// exchange fails (the message says what to do).
pub fn run(args: &LoginArgs) -> Result<(), Failure> {
    let token_path = match &args.token_file {
        Some(path) => path.clone(),
        None => default_token_file()?,
    };
    let client = read_client(&args.client_secrets)?;
    let listener = TcpListener::bind(("127.0.0.1", args.port)).map_err(|e| {
        Failure::failed(format!(
            "cannot listen on 127.0.0.1:{} for the consent redirect: {e}; pass another --port",
            args.port
        ))
    })?;
    let port = listener
        .local_addr()
        .map_err(|e| Failure::failed(format!("the redirect listener has no address: {e}")))?
        .port();
    let consent = Consent::new(&client, port, &args.scopes, random()?, random()?)
        .map_err(|e| Failure::usage(e.to_string()))?;
    let url = consent.authorization_url();
    eprintln!("To sign in, open this address in a browser (on this machine):\n\n    {url}\n");
    if !args.no_browser && browser::open(&url) {
        eprintln!("(a browser was asked to open it)");
    }
    eprintln!(
        "Waiting up to {} for the browser to come back to {} ...",
        units::duration(args.timeout),
        consent.redirect_uri()
    );
    let code = wait_for_code(&listener, &consent, args.timeout).map_err(|e| match e {
        WaitError::TimedOut(after) => Failure::failed(format!(
            "no answer from the browser within {}; run `gphotos-upload auth login` again (with \
             --timeout for more time)",
            units::duration(after)
        )),
        WaitError::Redirect(error) => Failure::failed(error.to_string()),
        WaitError::Io(error) => Failure::failed(format!("the redirect listener failed: {error}")),
    })?;
    drop(listener);
    let token = Exchanger::default()
        .run(&consent.exchange(&code))
        .map_err(|e| Failure::failed(format!("the code exchange failed: {e}")))?;
    save_token_file(&token_path, &token).map_err(|e| Failure::failed(e.to_string()))?;
    let granted: Vec<&str> = token
        .photos_scopes()
        .iter()
        .map(|s| s.short_name())
        .collect();
    eprintln!(
        "Signed in. Token stored in {} (scopes: {}).",
        token_path.display(),
        if granted.is_empty() {
            "none reported".to_owned()
        } else {
            granted.join(", ")
        }
    );
    let missing = token.missing_scopes(&args.scopes);
    if missing.contains(&Scope::AppendOnly) {
        eprintln!(
            "warning: uploading needs the appendonly scope, which was not granted; run `auth \
             login` again and tick every box on the consent page"
        );
    }
    if token.refresh_token.is_none() {
        eprintln!(
            "warning: no refresh token came back, so the token stops working within the hour; \
             remove the app's access at https://myaccount.google.com/permissions and log in again"
        );
    }
    Ok(())
}

/// Reads `client_secret.json`.
fn read_client(path: &Path) -> Result<OAuthClient, Failure> {
    let bytes = std::fs::read(path).map_err(|e| {
        Failure::usage(format!(
            "cannot read the OAuth client file {}: {e}; download it from Google Cloud (APIs & \
             Services > Credentials > your Desktop app client > Download JSON)",
            path.display()
        ))
    })?;
    OAuthClient::from_json(&bytes)
        .map_err(|e| Failure::usage(format!("the OAuth client file {}: {e}", path.display())))
}

/// 32 bytes from the operating system's CSPRNG.
fn random() -> Result<[u8; 32], Failure> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| {
        Failure::failed(format!(
            "the operating system gave no random bytes for the login: {e}"
        ))
    })?;
    Ok(bytes)
}
