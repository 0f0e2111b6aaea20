//! `token.json` (google-auth's format): read, write back, refresh from it; and the `expiry` timestamps.
#![no_main]

use gphotos_upload_fuzz::oauth::{TokenJsonInput, token_json};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: TokenJsonInput| token_json(&input));
