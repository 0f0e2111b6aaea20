//! Fault rules: which request they hit, when, and what goes wrong.
//!
//! Rules come from Rust ([`crate::Config::faults`], [`crate::Emulator::inject`]), from flags
//! (`--fault upload@2:status=503`) and from the control endpoint (JSON). Each rule counts the
//! requests of its kind from the moment it is installed, so a rule added at run time talks about
//! requests that have not happened yet.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// What a request is, as far as faults and introspection care.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RequestKind {
    /// `POST /v1/uploads` with `X-Goog-Upload-Command: start`.
    Start,
    /// `POST /v1/uploads` with `X-Goog-Upload-Protocol: raw` (simple upload).
    Raw,
    /// A non-final chunk: `X-Goog-Upload-Command: upload` on a session URL.
    Upload,
    /// `upload, finalize` or `finalize` on a session URL.
    Finalize,
    /// `X-Goog-Upload-Command: query` on a session URL.
    Query,
    /// `X-Goog-Upload-Command: cancel` on a session URL.
    Cancel,
    /// `POST /v1/mediaItems:batchCreate`.
    BatchCreate,
    /// `GET /v1/mediaItems/{id}`.
    Get,
    /// `POST /v1/albums` and `POST /v1/albums/{id}:batchAddMediaItems`.
    Albums,
    /// `POST /oauth2/token`.
    Token,
    /// `GET /oauth2/auth` (the consent page).
    Consent,
    /// `/emulator/...`: the control endpoints. Never faulted and never recorded.
    Control,
    /// Anything else (unknown routes, malformed session commands).
    Other,
    /// In a rule: matches every kind except [`RequestKind::Control`]. Never a request's own kind.
    Any,
}

impl RequestKind {
    const NAMES: [(&'static str, RequestKind); 14] = [
        ("start", Self::Start),
        ("raw", Self::Raw),
        ("upload", Self::Upload),
        ("finalize", Self::Finalize),
        ("query", Self::Query),
        ("cancel", Self::Cancel),
        ("batch_create", Self::BatchCreate),
        ("get", Self::Get),
        ("albums", Self::Albums),
        ("token", Self::Token),
        ("consent", Self::Consent),
        ("control", Self::Control),
        ("other", Self::Other),
        ("any", Self::Any),
    ];

    /// The snake-case name used in flags, JSON and introspection.
    pub fn name(self) -> &'static str {
        Self::NAMES
            .iter()
            .find(|(_, kind)| *kind == self)
            .map_or("other", |(name, _)| name)
    }

    pub(crate) fn matches(self, request: RequestKind) -> bool {
        match self {
            Self::Any => request != Self::Control,
            kind => kind == request,
        }
    }
}

impl fmt::Display for RequestKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for RequestKind {
    type Err = FaultParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let wanted = s.trim().to_ascii_lowercase().replace('-', "_");
        Self::NAMES
            .iter()
            .find(|(name, _)| *name == wanted)
            .map(|(_, kind)| *kind)
            .ok_or_else(|| FaultParseError(format!("unknown request kind `{s}`")))
    }
}

/// Which of the matching requests a rule hits, counting from 1 since the rule was installed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "OccurrenceRepr", into = "String")]
pub enum Occurrence {
    /// Only the Nth matching request.
    Nth(u64),
    /// The Nth matching request and every one after it.
    From(u64),
    /// Every matching request (the same as `From(1)`).
    Every,
}

impl Occurrence {
    pub(crate) fn hits(self, count: u64) -> bool {
        match self {
            Self::Nth(n) => count == n,
            Self::From(n) => count >= n,
            Self::Every => true,
        }
    }
}

impl fmt::Display for Occurrence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Nth(n) => write!(f, "{n}"),
            Self::From(n) => write!(f, "{n}+"),
            Self::Every => f.write_str("every"),
        }
    }
}

impl From<Occurrence> for String {
    fn from(value: Occurrence) -> Self {
        value.to_string()
    }
}

impl FromStr for Occurrence {
    type Err = FaultParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        if s.eq_ignore_ascii_case("every") || s == "*" {
            return Ok(Self::Every);
        }
        let (digits, from) = match s.strip_suffix('+') {
            Some(rest) => (rest, true),
            None => (s, false),
        };
        let n: u64 = digits
            .parse()
            .map_err(|_| FaultParseError(format!("occurrence `{s}` is not N, N+ or `every`")))?;
        if n == 0 {
            return Err(FaultParseError("occurrences count from 1".into()));
        }
        Ok(if from { Self::From(n) } else { Self::Nth(n) })
    }
}

/// JSON accepts an occurrence as a number (`2`) or a string (`"2"`, `"2+"`, `"every"`).
#[derive(Deserialize)]
#[serde(untagged)]
enum OccurrenceRepr {
    Number(u64),
    Text(String),
}

impl TryFrom<OccurrenceRepr> for Occurrence {
    type Error = FaultParseError;

    fn try_from(value: OccurrenceRepr) -> Result<Self, Self::Error> {
        match value {
            OccurrenceRepr::Number(n) => n.to_string().parse(),
            OccurrenceRepr::Text(text) => text.parse(),
        }
    }
}

/// What goes wrong when a rule hits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum FaultAction {
    /// Answer this status without processing the request (a body sent with it is read and
    /// discarded). The body defaults to a Google-style JSON error for the status.
    Status {
        /// HTTP status code, 200..=599 but 204 and 304 (statuses whose response carries a body).
        status: u16,
        /// Value of a `Retry-After` header (seconds or an HTTP date), sent verbatim.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        retry_after: Option<String>,
        /// Replaces the default JSON error body.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        body: Option<String>,
    },
    /// 429 `RESOURCE_EXHAUSTED` whose message names the per-day quota, which a client must not
    /// retry.
    DailyQuota,
    /// Read at most this many body bytes, then close the connection without an answer. For an
    /// upload or finalize the bytes read count as received, rounded down to the granularity
    /// (servers persist whole units), and a later query reports them.
    DropAfter {
        /// Body bytes read before the drop (0 drops the connection as soon as the head arrived).
        bytes: u64,
    },
    /// Process the request, then wait this long before answering (a client timeout leaves it
    /// unsure whether the request took effect).
    Stall {
        /// How long to wait, in milliseconds in JSON.
        #[serde(rename = "millis", with = "duration_millis")]
        duration: Duration,
    },
    /// Acknowledge a chunk normally but keep only part of it: a later query reports `bytes` fewer
    /// (rounded up to the granularity, at most the chunk), as if the server lost data it had acked.
    /// Applies to `upload` requests.
    LoseTail {
        /// Bytes lost from the end of the chunk.
        bytes: u64,
    },
    /// The session named by this request's URL expires now: this and every later request on it
    /// gets 404. Applies to session URL requests.
    ExpireSession,
    /// The access token on this request expires now: this and every later request with it gets
    /// 401. Applies to requests that need a bearer token.
    ExpireAccessToken,
    /// Process the request, then garble the reply headers: `X-Goog-Upload-URL` is left out and
    /// every other `X-Goog-Upload-*` header gets a value no client can parse (for replies without
    /// such headers, `Content-Type` becomes nonsense).
    MalformedHeaders,
    /// Process the request, then replace the reply body: JSON bodies become truncated non-JSON, an
    /// upload token body becomes empty.
    MalformedBody,
}

mod duration_millis {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(
        value: &Duration,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        serializer.serialize_u64(u64::try_from(value.as_millis()).unwrap_or(u64::MAX))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Duration, D::Error> {
        u64::deserialize(deserializer).map(Duration::from_millis)
    }
}

/// A fault: which requests, which occurrence, what happens.
///
/// The text form (flags, `FromStr`) is `KIND[@WHEN]:ACTION[=VALUE][,retry-after=V][,body=TEXT]`,
/// for example `upload@2:status=503,retry-after=1`, `finalize@1:drop=1000`,
/// `query@every:stall=1500ms`, `upload@3:lose-tail=262144`, `query@1:expire-session`,
/// `batch_create@1:expire-token`, `start@1:malformed-headers`, `batch_create@1:malformed-body`,
/// `any@10+:quota`. `WHEN` is `N`, `N+` or `every` and defaults to `1`.
///
/// The JSON form (control endpoint) flattens the action:
/// `{"kind":"upload","when":"2","action":"status","status":503,"retry_after":"1"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaultRule {
    /// Which requests the rule counts.
    pub kind: RequestKind,
    /// Which of them it hits.
    #[serde(rename = "when", default = "first")]
    pub occurrence: Occurrence,
    /// What happens to them.
    #[serde(flatten)]
    pub action: FaultAction,
}

fn first() -> Occurrence {
    Occurrence::Nth(1)
}

impl FaultRule {
    /// A rule; check it with [`FaultRule::validate`] (the emulator does before installing it).
    pub fn new(kind: RequestKind, occurrence: Occurrence, action: FaultAction) -> Self {
        Self {
            kind,
            occurrence,
            action,
        }
    }

    /// Rejects rules that can never do what they say: a status outside 200..=599 or one whose
    /// response has no body (204, 304; a 1xx is not even a final answer), faults on
    /// control requests, and actions that a specific kind cannot suffer (a lost tail on a query,
    /// an expired session on batchCreate...). Rules on [`RequestKind::Any`] are accepted; when
    /// such a rule hits a request its action cannot apply to, that request goes through untouched.
    ///
    /// # Errors
    /// A message saying what is wrong.
    pub fn validate(&self) -> Result<(), FaultParseError> {
        use RequestKind as K;
        let kind = self.kind;
        if kind == K::Control {
            return Err(FaultParseError("control requests cannot be faulted".into()));
        }
        let applies = match &self.action {
            FaultAction::Status {
                status,
                retry_after,
                ..
            } => {
                // The fault's answer is a final response with a body: a 1xx is only interim,
                // and a client reads no body after 204 or 304, so the body would be taken for the
                // next response.
                if !(200..=599).contains(status) || matches!(status, 204 | 304) {
                    return Err(FaultParseError(format!(
                        "status {status} cannot carry a fault's answer: use 200..=599 except 204 and 304"
                    )));
                }
                // It is written into a header: a line break would forge headers of its own.
                if let Some(value) = retry_after
                    && !value.bytes().all(|b| b == b' ' || b.is_ascii_graphic())
                {
                    return Err(FaultParseError(format!(
                        "retry-after {value:?} is not printable ASCII"
                    )));
                }
                true
            }
            FaultAction::DailyQuota
            | FaultAction::DropAfter { .. }
            | FaultAction::Stall { .. }
            | FaultAction::MalformedHeaders
            | FaultAction::MalformedBody => true,
            FaultAction::LoseTail { bytes } => {
                if *bytes == 0 {
                    return Err(FaultParseError(
                        "lose-tail needs a positive byte count".into(),
                    ));
                }
                matches!(kind, K::Upload | K::Any)
            }
            FaultAction::ExpireSession => {
                matches!(
                    kind,
                    K::Upload | K::Finalize | K::Query | K::Cancel | K::Any
                )
            }
            FaultAction::ExpireAccessToken => {
                matches!(
                    kind,
                    K::Start | K::Raw | K::BatchCreate | K::Get | K::Albums | K::Any
                )
            }
        };
        if applies {
            Ok(())
        } else {
            Err(FaultParseError(format!(
                "{} cannot happen to {kind} requests",
                self.action.name()
            )))
        }
    }
}

impl FaultAction {
    fn name(&self) -> &'static str {
        match self {
            Self::Status { .. } => "status",
            Self::DailyQuota => "quota",
            Self::DropAfter { .. } => "drop",
            Self::Stall { .. } => "stall",
            Self::LoseTail { .. } => "lose-tail",
            Self::ExpireSession => "expire-session",
            Self::ExpireAccessToken => "expire-token",
            Self::MalformedHeaders => "malformed-headers",
            Self::MalformedBody => "malformed-body",
        }
    }
}

impl FromStr for FaultRule {
    type Err = FaultParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (target, action_text) = s
            .split_once(':')
            .ok_or_else(|| FaultParseError(format!("fault `{s}` is not KIND[@WHEN]:ACTION")))?;
        let (kind, occurrence) = match target.split_once('@') {
            Some((kind, when)) => (kind.parse()?, when.parse()?),
            None => (target.parse()?, first()),
        };
        let mut parts = action_text.split(',');
        let head = parts.next().unwrap_or_default();
        let (name, value) = match head.split_once('=') {
            Some((name, value)) => (name.trim(), Some(value.trim())),
            None => (head.trim(), None),
        };
        let mut retry_after = None;
        let mut body = None;
        for option in parts {
            match option.split_once('=') {
                Some((key, v)) if key.trim().eq_ignore_ascii_case("retry-after") => {
                    retry_after = Some(v.trim().to_owned());
                }
                Some((key, v)) if key.trim().eq_ignore_ascii_case("body") => {
                    body = Some(v.to_owned());
                }
                _ => return Err(FaultParseError(format!("unknown fault option `{option}`"))),
            }
        }
        let has_options = retry_after.is_some() || body.is_some();
        let need = |what: &str| {
            value.ok_or_else(|| FaultParseError(format!("`{name}` needs a value: {name}={what}")))
        };
        let bytes = |text: &str| {
            text.parse::<u64>()
                .map_err(|_| FaultParseError(format!("`{text}` is not a byte count")))
        };
        let action = match name.to_ascii_lowercase().as_str() {
            "status" => FaultAction::Status {
                status: need("CODE")?
                    .parse()
                    .map_err(|_| FaultParseError(format!("`{head}`: status is not a number")))?,
                retry_after,
                body,
            },
            "quota" | "daily-quota" => FaultAction::DailyQuota,
            "drop" => FaultAction::DropAfter {
                bytes: bytes(need("BYTES")?)?,
            },
            "stall" => FaultAction::Stall {
                duration: parse_duration(need("DURATION")?)?,
            },
            "lose-tail" => FaultAction::LoseTail {
                bytes: bytes(need("BYTES")?)?,
            },
            "expire-session" => FaultAction::ExpireSession,
            "expire-token" | "expire-access-token" => FaultAction::ExpireAccessToken,
            "malformed-headers" => FaultAction::MalformedHeaders,
            "malformed-body" => FaultAction::MalformedBody,
            _ => return Err(FaultParseError(format!("unknown fault action `{name}`"))),
        };
        if !matches!(action, FaultAction::Status { .. }) && has_options {
            return Err(FaultParseError(
                "retry-after and body go only with status".into(),
            ));
        }
        let rule = FaultRule::new(kind, occurrence, action);
        rule.validate()?;
        Ok(rule)
    }
}

/// `250ms`, `2s`, `5m`, `1h`, `1d`, or a bare number of milliseconds.
pub(crate) fn parse_duration(text: &str) -> Result<Duration, FaultParseError> {
    let text = text.trim();
    let bad = || {
        FaultParseError(format!(
            "`{text}` is not a duration (e.g. 250ms, 2s, 5m, 1h, 1d)"
        ))
    };
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let number: u64 = text[..split].parse().map_err(|_| bad())?;
    let millis_per_unit: u64 = match text[split..].trim() {
        "" | "ms" => 1,
        "s" => 1000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => return Err(bad()),
    };
    number
        .checked_mul(millis_per_unit)
        .map(Duration::from_millis)
        .ok_or_else(bad)
}

/// A fault rule or option that does not parse or cannot apply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FaultParseError(pub String);

impl fmt::Display for FaultParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for FaultParseError {}

/// Random transient faults: each faultable request is hit with `probability`, the fault drawn from
/// those a well-behaved client must survive (5xx, 429 with `Retry-After: 1`, short stalls, dropped
/// connections and lost tails on chunks). Never a per-day quota, an expiry or a malformed reply,
/// and never anything that makes a batchCreate ambiguous (only statuses answered before
/// processing).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RandomFaults {
    /// Seed of the generator: the same seed and request order give the same faults.
    pub seed: u64,
    /// Chance per request, 0.0..=1.0.
    pub probability: f64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_form_parses() {
        let rule: FaultRule = "upload@2:status=503,retry-after=1".parse().unwrap();
        assert_eq!(rule.kind, RequestKind::Upload);
        assert_eq!(rule.occurrence, Occurrence::Nth(2));
        assert_eq!(
            rule.action,
            FaultAction::Status {
                status: 503,
                retry_after: Some("1".into()),
                body: None
            }
        );
        let rule: FaultRule = "query@every:stall=1500ms".parse().unwrap();
        assert_eq!(rule.occurrence, Occurrence::Every);
        assert_eq!(
            rule.action,
            FaultAction::Stall {
                duration: Duration::from_millis(1500)
            }
        );
        let rule: FaultRule = "batch-create:malformed-body".parse().unwrap();
        assert_eq!(rule.occurrence, Occurrence::Nth(1));
        assert_eq!(rule.kind, RequestKind::BatchCreate);
        assert!("any@3+:quota".parse::<FaultRule>().is_ok());
    }

    #[test]
    fn text_form_rejects_nonsense() {
        for bad in [
            "upload",
            "uplod:status=503",
            "upload@0:status=503",
            "upload:status",
            "upload:status=999",
            "query:lose-tail=5",
            "batch_create:expire-session",
            "query:expire-token",
            "control:status=500",
            "upload:drop=1,retry-after=3",
            "upload:explode",
        ] {
            assert!(bad.parse::<FaultRule>().is_err(), "{bad} parsed");
        }
    }

    #[test]
    fn json_form_round_trips() {
        let json = r#"{"kind":"finalize","when":"2+","action":"drop_after","bytes":100}"#;
        let rule: FaultRule = serde_json::from_str(json).unwrap();
        assert_eq!(rule.occurrence, Occurrence::From(2));
        let again: FaultRule =
            serde_json::from_str(&serde_json::to_string(&rule).unwrap()).unwrap();
        assert_eq!(rule, again);
        let rule: FaultRule =
            serde_json::from_str(r#"{"kind":"query","when":3,"action":"stall","millis":5}"#)
                .unwrap();
        assert_eq!(rule.occurrence, Occurrence::Nth(3));
    }
}
