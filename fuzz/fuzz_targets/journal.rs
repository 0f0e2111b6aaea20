//! The job's journal: read arbitrary (valid, torn, edited) journals and resume a job from them.
#![no_main]

use gphotos_upload_fuzz::journal::{JournalInput, journal};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: JournalInput| journal(&input));
