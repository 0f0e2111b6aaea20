//! The resumable upload machine under arbitrary replies, transport errors and caller actions, with
//! the invariants of DESIGN.md section 4 checked after every step.
#![no_main]

use gphotos_upload_fuzz::upload::{Scenario, run};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|scenario: Scenario| run(&scenario));
