//! `mediaItems:batchCreate` replies: per-item outcomes matched by upload token.
#![no_main]

use gphotos_upload_fuzz::library::{BatchReplyInput, batch_create_reply};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: BatchReplyInput| batch_create_reply(&input));
