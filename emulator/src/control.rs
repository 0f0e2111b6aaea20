//! The control endpoints: `/emulator/faults` (GET lists, POST adds, DELETE clears) and
//! `/emulator/state` (the [`crate::Inspection`] as JSON). They need no token: the emulator listens
//! on loopback only and is a test tool.

use serde::Deserialize;
use serde_json::json;

use crate::faults::FaultRule;
use crate::inspect::Inspection;
use crate::response::Response;
use crate::state::Shared;

/// A rule in JSON (object form), or its text form as a JSON string.
#[derive(Deserialize)]
#[serde(untagged)]
enum RuleInput {
    Text(String),
    Rule(FaultRule),
}

pub(crate) fn faults(shared: &Shared, method: &str, body: &[u8]) -> Response {
    match method {
        "POST" => {
            let rule = match serde_json::from_slice::<RuleInput>(body) {
                Ok(RuleInput::Text(text)) => text.parse::<FaultRule>().map_err(|e| e.to_string()),
                Ok(RuleInput::Rule(rule)) => {
                    rule.validate().map(|()| rule).map_err(|e| e.to_string())
                }
                Err(error) => Err(format!("not a fault rule: {error}")),
            };
            match rule {
                Ok(rule) => {
                    shared.faults().add(rule);
                    list(shared)
                }
                Err(message) => Response::google_error(400, message),
            }
        }
        "DELETE" => {
            shared.faults().clear();
            list(shared)
        }
        _ => list(shared),
    }
}

fn list(shared: &Shared) -> Response {
    Response::json(200, &json!({"rules": shared.faults().rules()}))
}

pub(crate) fn state(shared: &Shared) -> Response {
    let faults = shared.faults().rules();
    let inspection = Inspection::of(&shared.state(), faults);
    match serde_json::to_value(&inspection) {
        Ok(value) => Response::json(200, &value),
        Err(error) => Response::google_error(500, format!("cannot serialize the state: {error}")),
    }
}
