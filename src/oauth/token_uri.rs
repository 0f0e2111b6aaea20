//! The origin policy for the OAuth endpoints: client secrets, codes and refresh tokens travel only
//! over https, or over plain http to a loopback address (an emulator or a test server).

use http::Uri;
use http::uri::Scheme;

use crate::{EndpointError, is_loopback};

/// Google's token endpoint, used when `token.json` or `client_secret.json` names none.
pub const DEFAULT_TOKEN_URI: &str = "https://oauth2.googleapis.com/token";

/// Google's consent page, used when `client_secret.json` names none.
pub const DEFAULT_AUTH_URI: &str = "https://accounts.google.com/o/oauth2/auth";

/// Parses an OAuth endpoint URL and applies the origin policy.
pub(crate) fn check(text: &str) -> Result<Uri, EndpointError> {
    let not_a_url = || EndpointError::NotAUrl(shown(text));
    if text.contains('#') || text.chars().any(char::is_whitespace) {
        return Err(not_a_url());
    }
    let uri: Uri = text.parse().map_err(|_| not_a_url())?;
    let (Some(scheme), Some(authority)) = (uri.scheme(), uri.authority()) else {
        return Err(not_a_url());
    };
    if authority.as_str().contains('@') {
        // Credentials in the URL would be sent along; nobody needs them for Google's endpoints.
        return Err(not_a_url());
    }
    if *scheme == Scheme::HTTPS {
        Ok(uri)
    } else if *scheme == Scheme::HTTP {
        if is_loopback(authority.host()) {
            Ok(uri)
        } else {
            Err(EndpointError::InsecureHost(authority.host().to_owned()))
        }
    } else {
        Err(not_a_url())
    }
}

/// At most 200 characters of a URL from a file, for an error message; a URL with a user name or
/// password is not shown at all.
fn shown(text: &str) -> String {
    if text.contains('@') {
        return "(a URL with a user name or password)".to_owned();
    }
    text.chars().take(200).filter(|c| !c.is_control()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn applies_the_origin_policy() {
        assert!(check(DEFAULT_TOKEN_URI).is_ok());
        assert!(check(DEFAULT_AUTH_URI).is_ok());
        assert!(check("http://127.0.0.1:8080/token").is_ok());
        assert!(check("http://[::1]:9/token").is_ok());
        assert!(check("http://localhost/token").is_ok());
        assert_eq!(
            check("http://oauth2.googleapis.com/token"),
            Err(EndpointError::InsecureHost("oauth2.googleapis.com".into()))
        );
        for bad in [
            "",
            "/token",
            "oauth2.googleapis.com/token",
            "ftp://x/token",
            "https://x/token#frag",
            "https://x/to ken",
        ] {
            assert!(
                matches!(check(bad), Err(EndpointError::NotAUrl(_))),
                "{bad}"
            );
        }
    }
}
