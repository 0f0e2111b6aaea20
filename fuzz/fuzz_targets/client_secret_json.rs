//! `client_secret.json`: read it, check the endpoints' origin policy, prepare a consent.
#![no_main]

use gphotos_upload_fuzz::oauth::{ClientSecretInput, client_secret_json};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: ClientSecretInput| client_secret_json(&input));
