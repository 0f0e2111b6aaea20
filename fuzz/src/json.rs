//! Arbitrary JSON documents that use a parser's own vocabulary.
//!
//! Random bytes are almost never a JSON object with the keys a parser looks for; a tree of values
//! whose keys and strings are drawn from the parser's vocabulary (or are anything at all) reaches
//! its deep paths at once, while [`Doc::Raw`] still covers the syntax errors.

use arbitrary::Arbitrary;
use serde_json::{Map, Number, Value};

/// A document: structured JSON (optionally behind a UTF-8 byte order mark), or raw bytes.
#[derive(Arbitrary, Debug, Clone)]
pub enum Doc {
    /// A JSON tree, serialized compactly or pretty.
    Json {
        /// The tree.
        value: Json,
        /// Pretty-printed.
        pretty: bool,
        /// Preceded by a UTF-8 byte order mark.
        bom: bool,
    },
    /// Anything.
    Raw(Vec<u8>),
}

impl Doc {
    /// The document's bytes, with `keys` and `texts` as the vocabulary.
    pub fn bytes(&self, keys: &[&str], texts: &[&str]) -> Vec<u8> {
        match self {
            Self::Json { value, pretty, bom } => {
                let value = value.to_value(keys, texts, 0);
                let mut out = if *bom {
                    b"\xEF\xBB\xBF".to_vec()
                } else {
                    Vec::new()
                };
                let text = if *pretty {
                    serde_json::to_vec_pretty(&value)
                } else {
                    serde_json::to_vec(&value)
                };
                out.extend(text.expect("a JSON value serializes"));
                out
            }
            Self::Raw(bytes) => bytes.clone(),
        }
    }
}

/// A JSON value.
#[derive(Arbitrary, Debug, Clone)]
pub enum Json {
    /// `null`.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// A signed integer.
    Int(i64),
    /// An unsigned integer.
    UInt(u64),
    /// A float (non-finite ones become `null`, as JSON has none).
    Float(f64),
    /// A string.
    Text(Text),
    /// An array.
    Array(Vec<Json>),
    /// An object (a repeated key keeps the last value).
    Object(Vec<(Text, Json)>),
}

/// A string: one of the vocabulary's, or anything.
#[derive(Arbitrary, Debug, Clone)]
pub enum Text {
    /// The vocabulary's word at this index (modulo its length).
    Known(u8),
    /// Any string.
    Any(String),
}

impl Text {
    /// The string, from `words` when it is a known one.
    pub fn to_string_in(&self, words: &[&str]) -> String {
        match self {
            Self::Known(i) if !words.is_empty() => words[usize::from(*i) % words.len()].to_owned(),
            Self::Known(i) => i.to_string(),
            Self::Any(text) => text.clone(),
        }
    }
}

/// Nesting deeper than this becomes `null`: parsers see depth enough, and the harness's own
/// recursion stays shallow.
const MAX_DEPTH: usize = 8;

impl Json {
    /// The value, with keys drawn from `keys` and strings from `texts`.
    pub fn to_value(&self, keys: &[&str], texts: &[&str], depth: usize) -> Value {
        if depth > MAX_DEPTH {
            return Value::Null;
        }
        match self {
            Self::Null => Value::Null,
            Self::Bool(b) => Value::Bool(*b),
            Self::Int(i) => Value::from(*i),
            Self::UInt(u) => Value::from(*u),
            Self::Float(f) => Number::from_f64(*f).map_or(Value::Null, Value::Number),
            Self::Text(text) => Value::String(text.to_string_in(texts)),
            Self::Array(items) => Value::Array(
                items
                    .iter()
                    .map(|item| item.to_value(keys, texts, depth + 1))
                    .collect(),
            ),
            Self::Object(entries) => {
                let mut map = Map::new();
                for (key, value) in entries {
                    map.insert(
                        key.to_string_in(keys),
                        value.to_value(keys, texts, depth + 1),
                    );
                }
                Value::Object(map)
            }
        }
    }
}
