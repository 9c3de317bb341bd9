//! Command line: `serve` (the default) and `images build [NAME...]`.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// livecode: live-coding sessions for technical interviews.
#[derive(Debug, Parser)]
#[command(version, about)]
pub struct Cli {
    /// A config file whose keys override the embedded defaults.
    #[arg(long, global = true, env = "LIVECODE_CONFIG")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server (the default).
    Serve,
    /// Manage environment images.
    Images {
        #[command(subcommand)]
        command: ImagesCommand,
    },
    /// List the environments, with the language versions read off their images.
    Environments {
        /// Print the Markdown table the README carries.
        #[arg(long)]
        markdown: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum ImagesCommand {
    /// Build environment images (all when no name is given), using Docker's layer cache.
    Build {
        /// Environment names.
        names: Vec<String>,
        /// Images built at once (default: `parallel_builds` from the config).
        #[arg(long)]
        parallel: Option<usize>,
    },
}
