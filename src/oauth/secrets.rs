//! Secrets of the consent flow that the crate-wide secret types do not cover.

use std::fmt;

macro_rules! oauth_secret {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash)]
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
                f.write_str(concat!(stringify!($name), "(<redacted>)"))
            }
        }
    };
}

oauth_secret!(
    /// The one-time authorization code the browser brings back to the loopback listener.
    AuthorizationCode
);
oauth_secret!(
    /// The PKCE code verifier (RFC 7636): proves that whoever exchanges the code started the consent.
    CodeVerifier
);
oauth_secret!(
    /// google-auth's reauth proof token (`rapt_token`), sent along with a refresh when present.
    RaptToken
);
