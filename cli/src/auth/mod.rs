//! `gphotos-upload auth`: sign in (the installed-app consent flow) and describe the stored token.

mod browser;
mod login;
mod status;

pub use login::run as login;
pub use status::run as status;
