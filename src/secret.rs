//! Values that must never reach a log, an error message or `Debug` output.
//!
//! Each type keeps its value private and prints only a placeholder; the value comes out only through
//! an explicit `expose` call, so a leak is visible in review.

use std::fmt;

use serde::{Deserialize, Serialize};

macro_rules! secret {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// Wraps a secret value.
            pub fn new(value: impl Into<String>) -> Self {
                Self(value.into())
            }

            /// The secret itself: only for putting it on the wire or in its own file.
            pub fn expose(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!(stringify!($name), "(<redacted>)"))
            }
        }
    };
}

secret!(
    /// An OAuth access token, sent as `Authorization: Bearer <token>`.
    AccessToken
);
secret!(
    /// An OAuth refresh token, which mints new access tokens.
    RefreshToken
);
secret!(
    /// The OAuth client secret from `client_secret.json`.
    ClientSecret
);
secret!(
    /// The upload token returned by a finalized upload, consumed once by `mediaItems:batchCreate`.
    UploadToken
);
secret!(
    /// A resumable session URL: whoever holds it can write to the upload.
    SessionUrl
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_value() {
        let shown = format!(
            "{:?} {:?} {:?} {:?} {:?}",
            AccessToken::new("ya29.secret"),
            RefreshToken::new("1//secret"),
            ClientSecret::new("GOCSPX-secret"),
            UploadToken::new("CAIS-secret"),
            SessionUrl::new("https://x/upload?upload_id=secret"),
        );
        assert!(!shown.contains("secret"), "{shown}");
        assert!(shown.contains("AccessToken(<redacted>)"));
    }

    #[test]
    fn serializes_as_a_bare_string() {
        let json = serde_json::to_string(&UploadToken::new("abc")).unwrap();
        assert_eq!(json, "\"abc\"");
    }
}
