//! The token endpoint's replies to a refresh or a code exchange.
#![no_main]

use gphotos_upload_fuzz::oauth::{TokenReplyInput, token_reply};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: TokenReplyInput| token_reply(&input));
