//! The API root every request is built from, and the origin policy that decides which requests may
//! carry the bearer token.

use std::fmt;

use http::Uri;
use http::uri::{Authority, Scheme};

/// Google's Photos Library API root.
pub const GOOGLE_API_ROOT: &str = "https://photoslibrary.googleapis.com/v1/";

/// The root URL of a Photos Library API (Google's, or an emulator's on loopback).
///
/// Always ends with `/`, so that `uploads` and `mediaItems:batchCreate` join beneath it.
#[derive(Clone, PartialEq, Eq)]
pub struct Endpoint {
    scheme: Scheme,
    authority: Authority,
    /// Path of the root, starting and ending with `/`.
    path: String,
}

/// Why a URL cannot serve as an API root or a session URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EndpointError {
    /// The text is not an absolute `http` or `https` URL.
    NotAUrl(String),
    /// Plain `http://` was given for a host that is not a loopback address; the bearer token would
    /// cross the network unencrypted.
    InsecureHost(String),
}

impl fmt::Display for EndpointError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotAUrl(what) => write!(
                f,
                "`{what}` is not an absolute http(s) URL; give one such as {GOOGLE_API_ROOT}"
            ),
            Self::InsecureHost(host) => write!(
                f,
                "plain http is allowed only for loopback hosts, not `{host}`; use https"
            ),
        }
    }
}

impl std::error::Error for EndpointError {}

impl Endpoint {
    /// Google's API root, [`GOOGLE_API_ROOT`].
    ///
    /// # Panics
    /// Never: the constant is a valid https URL.
    pub fn google() -> Self {
        Self::parse(GOOGLE_API_ROOT).expect("the constant is a valid https URL")
    }

    /// Parses an API root such as `https://photoslibrary.googleapis.com/v1/` or
    /// `http://127.0.0.1:8080/v1`. A missing trailing `/` is added; a query or fragment is refused.
    ///
    /// # Errors
    /// [`EndpointError`] when the text is not an absolute http(s) URL, or uses plain http for a host
    /// that is not loopback.
    pub fn parse(text: &str) -> Result<Self, EndpointError> {
        let not_a_url = || EndpointError::NotAUrl(text.to_owned());
        let uri: Uri = text.parse().map_err(|_| not_a_url())?;
        let (Some(scheme), Some(authority)) = (uri.scheme(), uri.authority()) else {
            return Err(not_a_url());
        };
        if uri.query().is_some() || text.contains('#') {
            return Err(not_a_url());
        }
        if *scheme == Scheme::HTTP {
            if !is_loopback(authority.host()) {
                return Err(EndpointError::InsecureHost(authority.host().to_owned()));
            }
        } else if *scheme != Scheme::HTTPS {
            return Err(not_a_url());
        }
        let mut path = uri.path().to_owned();
        if !path.ends_with('/') {
            path.push('/');
        }
        Ok(Self {
            scheme: scheme.clone(),
            authority: authority.clone(),
            path,
        })
    }

    /// Whether this is Google's own API (as opposed to an emulator or a proxy).
    pub fn is_google(&self) -> bool {
        self.scheme == Scheme::HTTPS && self.authority.host() == "photoslibrary.googleapis.com"
    }

    /// The URL of `relative` under the root, for example `uploads` or `mediaItems:batchCreate`.
    pub fn join(&self, relative: &str) -> Uri {
        let text = format!(
            "{}://{}{}{relative}",
            self.scheme, self.authority, self.path
        );
        // The root is a valid URL and callers pass fixed API paths or percent-encoded ids.
        text.parse().unwrap_or_else(|_| self.root())
    }

    /// The root itself.
    ///
    /// # Panics
    /// Never: its parts were validated by [`Endpoint::parse`].
    pub fn root(&self) -> Uri {
        Uri::builder()
            .scheme(self.scheme.clone())
            .authority(self.authority.clone())
            .path_and_query(self.path.as_str())
            .build()
            .expect("scheme, authority and path were validated when parsed")
    }

    /// Resolves a URL that the server sent (a session URL): absolute, origin-relative (`/upload/x`)
    /// or relative to the root (`uploads?id=x`).
    ///
    /// # Errors
    /// [`EndpointError`] when the result is not an http(s) URL, or is plain http off loopback.
    pub fn resolve(&self, location: &str) -> Result<Uri, EndpointError> {
        let location = location.trim();
        let text = if location.starts_with("https://") || location.starts_with("http://") {
            location.to_owned()
        } else if location.starts_with('/') {
            format!("{}://{}{location}", self.scheme, self.authority)
        } else {
            format!(
                "{}://{}{}{location}",
                self.scheme, self.authority, self.path
            )
        };
        let uri: Uri = text
            .parse()
            .map_err(|_| EndpointError::NotAUrl("the session URL from the server".into()))?;
        match (uri.scheme(), uri.authority()) {
            (Some(s), Some(a))
                if *s == Scheme::HTTPS || (*s == Scheme::HTTP && is_loopback(a.host())) =>
            {
                Ok(uri)
            }
            (Some(_), Some(a)) => Err(EndpointError::InsecureHost(a.host().to_owned())),
            _ => Err(EndpointError::NotAUrl(
                "the session URL from the server".into(),
            )),
        }
    }

    /// The origin policy: whether a request to `target` may carry the bearer token.
    ///
    /// Only the API root's own origin (scheme, host and port) qualifies, plus, when the root is
    /// Google's, Google's own `*.googleapis.com` hosts over https. Every request the machines emit is
    /// marked by this function; a session URL that points anywhere else is sent without the token.
    pub fn may_carry_token(&self, target: &Uri) -> bool {
        let (Some(scheme), Some(authority)) = (target.scheme(), target.authority()) else {
            return false;
        };
        if *scheme == self.scheme && same_authority(authority, &self.authority) {
            return true;
        }
        self.is_google()
            && *scheme == Scheme::HTTPS
            && authority.port_u16().is_none_or(|p| p == 443)
            && is_googleapis_host(authority.host())
    }
}

fn same_authority(a: &Authority, b: &Authority) -> bool {
    a.host().eq_ignore_ascii_case(b.host()) && a.port_u16() == b.port_u16()
}

fn is_googleapis_host(host: &str) -> bool {
    let host = host.to_ascii_lowercase();
    host.strip_suffix(".googleapis.com")
        .is_some_and(|label| !label.is_empty() && !label.ends_with('.'))
}

/// Whether `host` names this machine: `localhost`, `127.0.0.0/8` or `::1`.
pub fn is_loopback(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.eq_ignore_ascii_case("localhost") {
        return true;
    }
    match host.parse::<core::net::IpAddr>() {
        Ok(ip) => ip.is_loopback(),
        Err(_) => false,
    }
}

impl fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Endpoint({}://{}{})",
            self.scheme, self.authority, self.path
        )
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://{}{}", self.scheme, self.authority, self.path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn joins_under_the_root() {
        let e = Endpoint::parse("http://127.0.0.1:8080/v1").unwrap();
        assert_eq!(
            e.join("uploads").to_string(),
            "http://127.0.0.1:8080/v1/uploads"
        );
        assert_eq!(
            Endpoint::google()
                .join("mediaItems:batchCreate")
                .to_string(),
            "https://photoslibrary.googleapis.com/v1/mediaItems:batchCreate"
        );
    }

    #[test]
    fn refuses_plain_http_off_loopback() {
        assert!(matches!(
            Endpoint::parse("http://example.com/v1/"),
            Err(EndpointError::InsecureHost(_))
        ));
        assert!(Endpoint::parse("http://[::1]:9/v1/").is_ok());
        assert!(Endpoint::parse("ftp://x/").is_err());
        assert!(Endpoint::parse("not a url").is_err());
    }

    #[test]
    fn resolves_session_urls() {
        let e = Endpoint::parse("http://localhost:9/v1/").unwrap();
        assert_eq!(
            e.resolve("/upload/1").unwrap().to_string(),
            "http://localhost:9/upload/1"
        );
        assert_eq!(
            e.resolve("uploads?id=2").unwrap().to_string(),
            "http://localhost:9/v1/uploads?id=2"
        );
        assert!(e.resolve("http://evil.example/x").is_err());
        assert!(e.resolve("https://evil.example/x").is_ok());
    }

    #[test]
    fn token_goes_only_to_its_origin() {
        let local = Endpoint::parse("http://127.0.0.1:8080/v1/").unwrap();
        assert!(local.may_carry_token(&"http://127.0.0.1:8080/upload/x".parse().unwrap()));
        assert!(!local.may_carry_token(&"http://127.0.0.1:8081/upload/x".parse().unwrap()));
        assert!(!local.may_carry_token(&"https://127.0.0.1:8080/upload/x".parse().unwrap()));
        assert!(
            !local.may_carry_token(&"https://photoslibrary.googleapis.com/v1/".parse().unwrap())
        );

        let google = Endpoint::google();
        assert!(
            google.may_carry_token(
                &"https://photoslibrary.googleapis.com/v1/uploads"
                    .parse()
                    .unwrap()
            )
        );
        assert!(google.may_carry_token(&"https://www.googleapis.com/upload/x".parse().unwrap()));
        assert!(!google.may_carry_token(&"http://www.googleapis.com/upload/x".parse().unwrap()));
        assert!(!google.may_carry_token(&"https://googleapis.com.evil.example/x".parse().unwrap()));
        assert!(
            !google.may_carry_token(&"https://evil.example/?h=.googleapis.com".parse().unwrap())
        );
        assert!(!google.may_carry_token(&"/relative".parse().unwrap()));
    }
}
