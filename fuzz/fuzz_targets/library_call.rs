//! The Library call machine (batchCreate, get, albums, simple upload) under arbitrary replies.
#![no_main]

use gphotos_upload_fuzz::library::{CallInput, library_call};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: CallInput| library_call(&input));
