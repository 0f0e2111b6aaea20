//! The emulator's fault rules, in the `--fault` text form and the control endpoint's JSON form.
#![no_main]

use gphotos_upload_fuzz::emulator::{FaultInput, faults};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: FaultInput| faults(&input));
