//! The loopback listener's request target after consent, and the page sent back to the browser.
#![no_main]

use gphotos_upload_fuzz::oauth::{RedirectInput, redirect};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: RedirectInput| redirect(&input));
