//! Command line: `serve` (the default), `images build [NAME...]`, `environments`, and the
//! client: `run FILE`, `sessions list|create|show|end`, `watch SESSION`.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// livecode: live-coding sessions for technical interviews.
#[derive(Debug, Parser)]
#[command(version, about)]
pub struct Cli {
    /// A config file whose keys override the embedded defaults.
    #[arg(long, global = true, env = "LIVECODE_CONFIG")]
    pub config: Option<PathBuf>,
    /// The server the client commands talk to.
    #[arg(
        long,
        global = true,
        env = "LIVECODE_URL",
        default_value = "http://127.0.0.1:8080"
    )]
    pub url: String,
    /// The API key the client commands send (none in open mode).
    #[arg(long, global = true, env = "LIVECODE_API_KEY", hide_env_values = true)]
    pub api_key: Option<String>,
    /// A session's token, for `sessions show|end` and `watch` (instead of the API key; the
    /// interviewer's link carries one after `#token=`).
    #[arg(long, global = true, env = "LIVECODE_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
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
    /// Run a program in a session of its own: output live, the terminal's stdin forwarded;
    /// exits with the program's exit code.
    Run {
        /// The program; its extension picks the environment unless --env names one.
        file: String,
        #[arg(long)]
        env: Option<String>,
        /// A file to give the program as its stdin (default: this terminal's).
        #[arg(long)]
        stdin: Option<String>,
    },
    /// Manage sessions on the server.
    Sessions {
        #[command(subcommand)]
        command: SessionsCommand,
    },
    /// Follow a session's runs as they happen, as an observer.
    Watch { session: String },
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

#[derive(Debug, Subcommand)]
pub enum SessionsCommand {
    /// The sessions this key (or, in open mode, this address) created, newest first.
    List,
    /// A new session; prints its links and tokens.
    Create {
        #[arg(long)]
        env: Option<String>,
        /// A file whose content is the session's document.
        #[arg(long)]
        file: Option<String>,
    },
    Show {
        session: String,
    },
    /// End a session (its container goes; its record stays).
    End {
        session: String,
    },
}
