//! The emulator's HTTP front (request parser, router, handlers) over loopback.
#![no_main]

use gphotos_upload_fuzz::emulator::{EmulatorInput, run};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: EmulatorInput| run(&input));
