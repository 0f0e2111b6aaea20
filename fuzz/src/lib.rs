//! Shared harnesses of the fuzz targets.
//!
//! The oracle is h11's: every input is accepted or refused with a typed error; a panic, a hang or a
//! broken invariant is a bug. Each module drives one part of the project with arbitrary input and
//! panics (which libFuzzer reports as a crash) when an invariant breaks.

pub mod emulator;
pub mod headers;
pub mod journal;
pub mod json;
pub mod library;
pub mod oauth;
pub mod upload;
