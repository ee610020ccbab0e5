//! Output format selection shared by every subcommand.

use clap::ValueEnum;

/// How a subcommand prints its result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum OutputFormat {
    /// Human-readable text; colours only when stdout is a terminal.
    #[default]
    Text,
    /// Machine-readable JSON.
    Json,
}
