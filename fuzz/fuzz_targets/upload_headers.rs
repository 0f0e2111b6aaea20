//! The reply-header, body and URL parsers of the upload protocol.
#![no_main]

use gphotos_upload_fuzz::headers::{Input, run};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: Input| run(&input));
