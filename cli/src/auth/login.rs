//! `gphotos-upload auth login`: the installed-app consent flow with PKCE on a loopback listener
//! (the adapter's [`Login`]; the `state` and verifier come from the operating system's CSPRNG).

use std::path::Path;

use gphotos_upload::oauth::{OAuthClient, Scope};
use gphotos_upload_ureq::Error;
use gphotos_upload_ureq::oauth::{Exchanger, Login, save_token_file};

use super::browser;
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
    let login = Login::start_on_port(&client, &args.scopes, args.port).map_err(login_failure)?;
    let url = login.authorization_url();
    eprintln!("To sign in, open this address in a browser (on this machine):\n\n    {url}\n");
    if !args.no_browser && browser::open(&url) {
        eprintln!("(a browser was asked to open it)");
    }
    eprintln!(
        "Waiting up to {} for the browser to come back to {} ...",
        units::duration(args.timeout),
        login.redirect_uri()
    );
    let token = login
        .finish(args.timeout, &Exchanger::default())
        .map_err(login_failure)?;
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

/// The login's failure, without the adapter's generic "no usable access token" preamble.
fn login_failure(error: Error) -> Failure {
    match error {
        Error::Credentials { reason } => Failure::failed(reason),
        other => Failure::failed(other.to_string()),
    }
}
