//! Why a command stopped, and the exit code that says so.

use std::fmt;
use std::process::ExitCode;

/// A command that could not do its job.
#[derive(Debug)]
pub enum Failure {
    /// The command line or the configuration is wrong: nothing was attempted (exit 2, like clap's
    /// own errors).
    Usage(String),
    /// The command ran and failed (exit 1).
    Failed(String),
}

impl Failure {
    /// A usage error.
    pub fn usage(message: impl Into<String>) -> Self {
        Self::Usage(message.into())
    }

    /// A runtime failure.
    pub fn failed(message: impl Into<String>) -> Self {
        Self::Failed(message.into())
    }

    /// The process exit code.
    pub fn exit_code(&self) -> ExitCode {
        match self {
            Self::Usage(_) => ExitCode::from(2),
            Self::Failed(_) => ExitCode::from(1),
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Usage(message) | Self::Failed(message) => f.write_str(message),
        }
    }
}

impl std::error::Error for Failure {}
