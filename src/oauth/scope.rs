//! The Photos Library API scopes that exist since March 2025.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

const PREFIX: &str = "https://www.googleapis.com/auth/photoslibrary";

/// One of the three Photos Library API scopes left after Google removed the others on 31 March 2025.
/// The app can see only media items and albums it created itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Scope {
    /// `photoslibrary.appendonly`: upload media items and create albums.
    AppendOnly,
    /// `photoslibrary.readonly.appcreateddata`: read the media items and albums the app created
    /// (needed by `mediaItems.get`).
    ReadOnlyAppCreatedData,
    /// `photoslibrary.edit.appcreateddata`: edit the media items and albums the app created.
    EditAppCreatedData,
}

impl Scope {
    /// Every scope, in a fixed order.
    pub const ALL: [Scope; 3] = [
        Scope::AppendOnly,
        Scope::ReadOnlyAppCreatedData,
        Scope::EditAppCreatedData,
    ];

    /// The scope's URL, as sent in the consent request and stored in `token.json`.
    pub fn url(self) -> &'static str {
        match self {
            Scope::AppendOnly => "https://www.googleapis.com/auth/photoslibrary.appendonly",
            Scope::ReadOnlyAppCreatedData => {
                "https://www.googleapis.com/auth/photoslibrary.readonly.appcreateddata"
            }
            Scope::EditAppCreatedData => {
                "https://www.googleapis.com/auth/photoslibrary.edit.appcreateddata"
            }
        }
    }

    /// The short name after `photoslibrary.`, such as `appendonly`.
    pub fn short_name(self) -> &'static str {
        &self.url()[PREFIX.len() + 1..]
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.url())
    }
}

/// A text that names none of the three scopes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScopeError {
    /// One of the Photos Library scopes Google removed on 31 March 2025
    /// (`photoslibrary`, `photoslibrary.readonly`, `photoslibrary.sharing`).
    Removed(String),
    /// Not a Photos Library scope at all.
    Unknown(String),
}

impl fmt::Display for ScopeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let choices = "appendonly, readonly.appcreateddata or edit.appcreateddata";
        match self {
            Self::Removed(scope) => write!(
                f,
                "the scope `{scope}` was removed from the Photos Library API on 31 March 2025; \
                 use {choices}"
            ),
            Self::Unknown(scope) => {
                write!(f, "`{scope}` is not a Photos Library scope; use {choices}")
            }
        }
    }
}

impl std::error::Error for ScopeError {}

impl FromStr for Scope {
    type Err = ScopeError;

    /// Accepts the full URL or the short name (`appendonly`, `photoslibrary.appendonly`).
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let trimmed = text.trim();
        let short = trimmed
            .strip_prefix(PREFIX)
            .map_or(trimmed, |rest| rest.strip_prefix('.').unwrap_or(rest));
        let short = short.strip_prefix("photoslibrary.").unwrap_or(short);
        if let Some(scope) = Scope::ALL.into_iter().find(|s| s.short_name() == short) {
            return Ok(scope);
        }
        let removed = matches!(short, "" | "readonly" | "sharing" | "photoslibrary")
            && (trimmed.starts_with(PREFIX) || trimmed.starts_with("photoslibrary"));
        let shown = trimmed.chars().take(200).collect();
        if removed {
            Err(ScopeError::Removed(shown))
        } else {
            Err(ScopeError::Unknown(shown))
        }
    }
}

impl TryFrom<String> for Scope {
    type Error = ScopeError;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        text.parse()
    }
}

impl From<Scope> for String {
    fn from(scope: Scope) -> Self {
        scope.url().to_owned()
    }
}

/// The scope parameter of a consent request: the URLs separated by single spaces.
pub(crate) fn join(scopes: &[Scope]) -> String {
    scopes.iter().map(|s| s.url()).collect::<Vec<_>>().join(" ")
}
