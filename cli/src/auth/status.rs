//! `gphotos-upload auth status`: which token file, its scopes and expiry, whether it refreshes.
//! Never prints a token.

use std::path::Path;
use std::time::SystemTime;

use gphotos_upload::oauth::{TokenExchange, TokenFile, format_expiry};
use gphotos_upload_ureq::oauth::load_token_file;

use crate::args::StatusArgs;
use crate::failure::Failure;
use crate::places::default_token_file;
use crate::units;

/// Describes the token file on stdout.
///
/// # Errors
/// A runtime failure when there is no usable token (missing, unreadable, or expired without a way
/// to refresh).
pub fn run(args: &StatusArgs) -> Result<(), Failure> {
    if std::env::var_os("GPHOTOS_ACCESS_TOKEN").is_some_and(|v| !v.is_empty()) {
        println!(
            "note:         GPHOTOS_ACCESS_TOKEN is set; `upload` uses it instead of the token file"
        );
    }
    let path = match &args.token_file {
        Some(path) => path.clone(),
        None => default_token_file()?,
    };
    println!("token file:   {}", path.display());
    let file = load_token_file(&path).map_err(|e| Failure::failed(e.to_string()))?;
    if let Some(mode) = permissions(&path) {
        println!("permissions:  {mode}");
    }
    describe(&file, SystemTime::now())
}

fn describe(file: &TokenFile, now: SystemTime) -> Result<(), Failure> {
    let scopes = match &file.scopes {
        None => "not recorded (the API decides)".to_owned(),
        Some(listed) if listed.is_empty() => "none".to_owned(),
        Some(_) => {
            let photos: Vec<&str> = file
                .photos_scopes()
                .iter()
                .map(|s| s.short_name())
                .collect();
            if photos.is_empty() {
                "no Photos Library scope".to_owned()
            } else {
                photos.join(", ")
            }
        }
    };
    println!("scopes:       {scopes}");
    let valid = file.access_token(now).is_some();
    let access = match (&file.token, file.expiry) {
        (None, _) => "none".to_owned(),
        (Some(_), None) => "present, expiry unknown (refreshed before use)".to_owned(),
        (Some(_), Some(expiry)) => match expiry.duration_since(now) {
            Ok(left) if valid => format!(
                "valid until {} (in {})",
                format_expiry(expiry),
                units::duration(left)
            ),
            _ => format!("expired or about to ({})", format_expiry(expiry)),
        },
    };
    println!("access token: {access}");
    let refresh = TokenExchange::refresh(file);
    match &refresh {
        Ok(exchange) => println!(
            "refresh:      yes, at {}",
            exchange.uri().authority().map_or("?", |a| a.as_str())
        ),
        Err(why) => println!("refresh:      no ({why})"),
    }
    if let Some(account) = file.account.as_deref().filter(|a| !a.is_empty()) {
        println!("account:      {account}");
    }
    if valid || refresh.is_ok() {
        Ok(())
    } else {
        Err(Failure::failed(
            "the token is expired and cannot be refreshed; run `gphotos-upload auth login`",
        ))
    }
}

#[cfg(unix)]
fn permissions(path: &Path) -> Option<String> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path).ok()?.permissions().mode() & 0o777;
    let private = mode & (0o070 | 0o007) == 0;
    Some(if private {
        format!("{mode:04o}")
    } else {
        format!(
            "{mode:04o} (readable by others: run `chmod 600 {}`)",
            path.display()
        )
    })
}

#[cfg(not(unix))]
fn permissions(_path: &Path) -> Option<String> {
    None
}
