//! `token.json`, the same file Python's google-auth reads (`Credentials.from_authorized_user_info`)
//! and writes (`Credentials.to_json`), so users keep their existing token.

use std::fmt;
use std::io;
use std::time::{Duration, SystemTime};

use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::{Map, Value};

use super::Scope;
use super::secrets::RaptToken;
use super::timestamp::{format_expiry, parse_expiry};
use super::token_uri::DEFAULT_TOKEN_URI;
use crate::{AccessToken, ClientSecret, RefreshToken};

/// How long before its expiry an access token is refreshed: google-auth's
/// `REFRESH_THRESHOLD` of 3 minutes 45 seconds.
pub const REFRESH_MARGIN: Duration = Duration::from_secs(3 * 60 + 45);

/// The keys this type knows, in the order google-auth's `to_json` writes them (`quota_project_id`,
/// which google-auth reads but does not write, comes after them).
const KNOWN_KEYS: [&str; 11] = [
    "token",
    "refresh_token",
    "token_uri",
    "client_id",
    "client_secret",
    "scopes",
    "rapt_token",
    "universe_domain",
    "account",
    "expiry",
    "quota_project_id",
];

/// The contents of `token.json`. Every key is optional, as in google-auth; keys this type does not
/// know are kept in [`TokenFile::extra`] and written back.
///
/// Read it with [`TokenFile::from_json`], write it with [`TokenFile::to_json`]; the adapter does the
/// atomic, mode 0600 file write.
#[derive(Clone, Default, PartialEq)]
pub struct TokenFile {
    /// `token`: the access token.
    pub token: Option<AccessToken>,
    /// `refresh_token`.
    pub refresh_token: Option<RefreshToken>,
    /// `token_uri`: where to refresh (default [`DEFAULT_TOKEN_URI`]).
    pub token_uri: Option<String>,
    /// `client_id` of the OAuth client that obtained the token.
    pub client_id: Option<String>,
    /// `client_secret` of that client.
    pub client_secret: Option<ClientSecret>,
    /// `scopes`: the scope URLs, kept as text (a token may carry scopes of other APIs).
    pub scopes: Option<Vec<String>>,
    /// `rapt_token`: google-auth's reauth proof token.
    pub rapt_token: Option<RaptToken>,
    /// `universe_domain` (google-auth writes `googleapis.com`).
    pub universe_domain: Option<String>,
    /// `account` (google-auth writes an empty string when it does not know it).
    pub account: Option<String>,
    /// `quota_project_id`: read by google-auth, never written by it; kept here.
    pub quota_project_id: Option<String>,
    /// `expiry` of the access token.
    pub expiry: Option<SystemTime>,
    /// Every other key of the file, written back unchanged after the known ones.
    pub extra: Map<String, Value>,
}

/// Why bytes are not a usable `token.json`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenFileError {
    /// Not JSON (for example an empty or truncated file).
    NotJson {
        /// Line of the syntax error (1-based).
        line: usize,
        /// Column of the syntax error (1-based).
        column: usize,
    },
    /// JSON, but not an object.
    NotAnObject,
    /// This is the OAuth client's `client_secret.json`, not a token.
    ClientSecretFile,
    /// A credential of another kind (`"type"` other than `authorized_user`), such as a
    /// service-account key.
    WrongKind(String),
    /// A known key holds the wrong JSON type.
    WrongType(&'static str),
    /// `expiry` is not a UTC time such as `2025-01-02T03:04:05Z`.
    BadExpiry(String),
}

impl fmt::Display for TokenFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const AGAIN: &str = "run `gphotos-upload auth login` to create a new one";
        match self {
            Self::NotJson { line, column } => write!(
                f,
                "the token file is not JSON (syntax error at line {line}, column {column}); \
                 {AGAIN}"
            ),
            Self::NotAnObject => write!(f, "the token file is not a JSON object; {AGAIN}"),
            Self::ClientSecretFile => write!(
                f,
                "this is the OAuth client's client_secret.json, not a token file; {AGAIN}"
            ),
            Self::WrongKind(kind) => write!(
                f,
                "the token file holds a `{kind}` credential, not a user's authorized token; \
                 {AGAIN}"
            ),
            Self::WrongType(key) => {
                write!(
                    f,
                    "the token file's \"{key}\" has the wrong JSON type; {AGAIN}"
                )
            }
            Self::BadExpiry(text) => write!(
                f,
                "the token file's \"expiry\" `{text}` is not a UTC time such as \
                 2025-01-02T03:04:05Z; remove the key (the token is then refreshed) or {AGAIN}"
            ),
        }
    }
}

impl std::error::Error for TokenFileError {}

impl TokenFile {
    /// Reads a `token.json` as google-auth writes it (a leading UTF-8 byte order mark is ignored).
    /// `null` counts as absent; `scopes` may be an array or a space-separated string; `expiry`'s
    /// fraction and `Z` are optional. Nothing is required here: what a refresh needs is checked by
    /// [`TokenExchange::refresh`](super::TokenExchange::refresh).
    ///
    /// # Errors
    /// [`TokenFileError`] for bytes that are not such a file.
    pub fn from_json(bytes: &[u8]) -> Result<Self, TokenFileError> {
        let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
        let value: Value = serde_json::from_slice(bytes).map_err(|e| TokenFileError::NotJson {
            line: e.line(),
            column: e.column(),
        })?;
        let Value::Object(mut map) = value else {
            return Err(TokenFileError::NotAnObject);
        };
        if map.contains_key("installed") || map.contains_key("web") {
            return Err(TokenFileError::ClientSecretFile);
        }
        match map.get("type") {
            None | Some(Value::Null) => {}
            Some(Value::String(kind)) if kind == "authorized_user" => {}
            Some(Value::String(kind)) => {
                return Err(TokenFileError::WrongKind(printable(kind, 60)));
            }
            Some(_) => return Err(TokenFileError::WrongType("type")),
        }
        let mut file = TokenFile {
            token: take_string(&mut map, "token")?.map(AccessToken::new),
            refresh_token: take_string(&mut map, "refresh_token")?.map(RefreshToken::new),
            token_uri: take_string(&mut map, "token_uri")?,
            client_id: take_string(&mut map, "client_id")?,
            client_secret: take_string(&mut map, "client_secret")?.map(ClientSecret::new),
            scopes: None,
            rapt_token: take_string(&mut map, "rapt_token")?.map(RaptToken::new),
            universe_domain: take_string(&mut map, "universe_domain")?,
            account: take_string(&mut map, "account")?,
            quota_project_id: take_string(&mut map, "quota_project_id")?,
            expiry: None,
            extra: Map::new(),
        };
        file.scopes = match map.remove("scopes") {
            None | Some(Value::Null) => None,
            Some(Value::String(text)) => Some(text.split_whitespace().map(str::to_owned).collect()),
            Some(Value::Array(items)) => Some(
                items
                    .into_iter()
                    .map(|item| match item {
                        Value::String(scope) => Ok(scope),
                        _ => Err(TokenFileError::WrongType("scopes")),
                    })
                    .collect::<Result<_, _>>()?,
            ),
            Some(_) => return Err(TokenFileError::WrongType("scopes")),
        };
        file.expiry = match take_string(&mut map, "expiry")? {
            // google-auth treats an empty expiry as none.
            None => None,
            Some(text) if text.is_empty() => None,
            Some(text) => Some(
                parse_expiry(&text)
                    .ok_or_else(|| TokenFileError::BadExpiry(printable(&text, 40)))?,
            ),
        };
        file.extra = map;
        Ok(file)
    }

    /// The file's bytes, exactly as google-auth's `Credentials.to_json()` writes them: its key
    /// order, `json.dumps` spacing (`", "` and `": "`) and ASCII-only escaping, absent keys left
    /// out, `expiry` as `2025-01-02T03:04:05.123456Z` (no fraction when the microseconds are zero),
    /// no trailing newline. `quota_project_id` and unknown keys follow the known ones.
    pub fn to_json(&self) -> Vec<u8> {
        let mut entries: Vec<(&str, Value)> = Vec::with_capacity(KNOWN_KEYS.len());
        let text = |value: &str| Value::String(value.to_owned());
        let mut push = |key: &'static str, value: Option<Value>| {
            if let Some(value) = value {
                entries.push((key, value));
            }
        };
        push("token", self.token.as_ref().map(|t| text(t.expose())));
        push(
            "refresh_token",
            self.refresh_token.as_ref().map(|t| text(t.expose())),
        );
        push("token_uri", self.token_uri.as_deref().map(text));
        push("client_id", self.client_id.as_deref().map(text));
        push(
            "client_secret",
            self.client_secret.as_ref().map(|s| text(s.expose())),
        );
        push(
            "scopes",
            self.scopes
                .as_ref()
                .map(|scopes| Value::Array(scopes.iter().map(|s| text(s)).collect())),
        );
        push(
            "rapt_token",
            self.rapt_token.as_ref().map(|t| text(t.expose())),
        );
        push("universe_domain", self.universe_domain.as_deref().map(text));
        push("account", self.account.as_deref().map(text));
        push(
            "expiry",
            self.expiry.map(|t| Value::String(format_expiry(t))),
        );
        push(
            "quota_project_id",
            self.quota_project_id.as_deref().map(text),
        );
        for (key, value) in &self.extra {
            if !KNOWN_KEYS.contains(&key.as_str()) {
                entries.push((key, value.clone()));
            }
        }
        let mut out = Vec::new();
        let mut serializer = serde_json::Serializer::with_formatter(&mut out, PythonFormatter);
        // Writing JSON values into a Vec cannot fail.
        let written = Ordered(&entries).serialize(&mut serializer);
        debug_assert!(written.is_ok());
        out
    }

    /// Whether the access token must be refreshed before use: there is none, its expiry is unknown
    /// (google-auth treats a file without `expiry` as expired), or it expires within
    /// [`REFRESH_MARGIN`] of `now`.
    pub fn needs_refresh(&self, now: SystemTime) -> bool {
        let (Some(_), Some(expiry)) = (&self.token, self.expiry) else {
            return true;
        };
        now.checked_add(REFRESH_MARGIN)
            .is_none_or(|threshold| threshold >= expiry)
    }

    /// The access token, when it is good for use at `now` (see [`TokenFile::needs_refresh`]).
    pub fn access_token(&self, now: SystemTime) -> Option<&AccessToken> {
        if self.needs_refresh(now) {
            None
        } else {
            self.token.as_ref()
        }
    }

    /// Where to refresh: `token_uri`, or Google's endpoint when the file names none.
    pub fn token_uri_or_default(&self) -> &str {
        match self.token_uri.as_deref() {
            Some(uri) if !uri.is_empty() => uri,
            _ => DEFAULT_TOKEN_URI,
        }
    }

    /// The Photos Library scopes among `scopes` (other text is skipped).
    pub fn photos_scopes(&self) -> Vec<Scope> {
        self.scopes
            .iter()
            .flatten()
            .filter_map(|s| s.parse().ok())
            .collect()
    }

    /// The scopes of `wanted` that the file does not list. When the file lists no scopes at all the
    /// answer is empty: google-auth files need not record them, and the API decides.
    pub fn missing_scopes(&self, wanted: &[Scope]) -> Vec<Scope> {
        if self.scopes.is_none() {
            return Vec::new();
        }
        let have = self.photos_scopes();
        wanted
            .iter()
            .copied()
            .filter(|scope| !have.contains(scope))
            .collect()
    }
}

impl fmt::Debug for TokenFile {
    // Values of unknown keys may be secrets too, so only their names are shown.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenFile")
            .field("token", &self.token)
            .field("refresh_token", &self.refresh_token)
            .field("token_uri", &self.token_uri)
            .field("client_id", &self.client_id)
            .field("client_secret", &self.client_secret)
            .field("scopes", &self.scopes)
            .field("rapt_token", &self.rapt_token)
            .field("universe_domain", &self.universe_domain)
            .field("account", &self.account)
            .field("quota_project_id", &self.quota_project_id)
            .field("expiry", &self.expiry.map(format_expiry))
            .field("extra_keys", &self.extra.keys().collect::<Vec<_>>())
            .finish()
    }
}

fn take_string(
    map: &mut Map<String, Value>,
    key: &'static str,
) -> Result<Option<String>, TokenFileError> {
    match map.remove(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(value)) => Ok(Some(value)),
        Some(_) => Err(TokenFileError::WrongType(key)),
    }
}

/// At most `max` characters of `text` with control characters dropped, for an error message.
fn printable(text: &str, max: usize) -> String {
    text.chars().filter(|c| !c.is_control()).take(max).collect()
}

/// Serializes entries as an object in their given order.
struct Ordered<'a>(&'a [(&'a str, Value)]);

impl Serialize for Ordered<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (key, value) in self.0 {
            map.serialize_entry(key, value)?;
        }
        map.end()
    }
}

/// The output of Python's `json.dumps` with its defaults: `", "` between items, `": "` after keys,
/// and every character outside printable ASCII escaped as `\uXXXX` (lowercase hex, UTF-16).
struct PythonFormatter;

impl serde_json::ser::Formatter for PythonFormatter {
    fn begin_array_value<W: ?Sized + io::Write>(
        &mut self,
        writer: &mut W,
        first: bool,
    ) -> io::Result<()> {
        if first {
            Ok(())
        } else {
            writer.write_all(b", ")
        }
    }

    fn begin_object_key<W: ?Sized + io::Write>(
        &mut self,
        writer: &mut W,
        first: bool,
    ) -> io::Result<()> {
        if first {
            Ok(())
        } else {
            writer.write_all(b", ")
        }
    }

    fn begin_object_value<W: ?Sized + io::Write>(&mut self, writer: &mut W) -> io::Result<()> {
        writer.write_all(b": ")
    }

    fn write_string_fragment<W: ?Sized + io::Write>(
        &mut self,
        writer: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        for ch in fragment.chars() {
            if (' '..='~').contains(&ch) {
                let mut buf = [0; 4];
                writer.write_all(ch.encode_utf8(&mut buf).as_bytes())?;
            } else {
                let mut units = [0; 2];
                for unit in ch.encode_utf16(&mut units) {
                    write!(writer, "\\u{unit:04x}")?;
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_like_python_json_dumps() {
        let mut file = TokenFile {
            account: Some("zoë\u{7f}\u{1F600}\n\"\\/".into()),
            ..TokenFile::default()
        };
        file.extra.insert(
            "n".into(),
            serde_json::json!([1, {"a": null, "b": true}, []]),
        );
        assert_eq!(
            String::from_utf8(file.to_json()).unwrap(),
            r#"{"account": "zo\u00eb\u007f\ud83d\ude00\n\"\\/", "n": [1, {"a": null, "b": true}, []]}"#
        );
        assert_eq!(TokenFile::default().to_json(), b"{}");
    }
}
