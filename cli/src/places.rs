//! Where files live by default: the token under the user's config directory, journals under the
//! user's state directory.

use std::path::PathBuf;

use crate::failure::Failure;

const APP: &str = "gphotos-upload";

/// `token.json` in the user's config directory (`~/.config/gphotos-upload/token.json` on Linux).
///
/// # Errors
/// A usage failure when the system names no config directory (no home directory).
pub fn default_token_file() -> Result<PathBuf, Failure> {
    dirs::config_dir()
        .map(|dir| dir.join(APP).join("token.json"))
        .ok_or_else(|| {
            Failure::usage(
                "cannot find the user's config directory (is HOME set?); pass --token-file",
            )
        })
}

/// The directory of default journals (`~/.local/state/gphotos-upload/journals` on Linux; the
/// cache or local data directory where the system has no state directory).
///
/// # Errors
/// A usage failure when the system names none of them.
pub fn journal_dir() -> Result<PathBuf, Failure> {
    dirs::state_dir()
        .or_else(dirs::data_local_dir)
        .or_else(dirs::cache_dir)
        .map(|dir| dir.join(APP).join("journals"))
        .ok_or_else(|| {
            Failure::usage("cannot find the user's state directory (is HOME set?); pass --journal")
        })
}
