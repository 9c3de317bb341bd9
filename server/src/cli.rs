//! Command line: `serve` (the default), `images build [NAME...]`, `environments`, and the
//! client: `run FILE`, `sessions list|create|show|end`, `watch SESSION`, `drain`.

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
    ///
    /// The session is the command's own: it is ended when the program ends, on an error, and
    /// on Ctrl+C (which kills the run first and exits 130). An end that fails is reported
    /// (with the command that ends it) and makes the exit code non-zero.
    Run {
        /// The program; its extension picks the environment unless --env names one.
        file: String,
        /// The environment to run it in (`livecode environments` lists them).
        #[arg(long)]
        env: Option<String>,
        /// A file to give the program as its stdin (default: this terminal's).
        #[arg(long)]
        stdin: Option<String>,
    },
    /// Manage sessions on the server.
    Sessions {
        /// Print the server's answer as JSON (for scripts) instead of a table.
        #[arg(long, global = true)]
        json: bool,
        #[command(subcommand)]
        command: SessionsCommand,
    },
    /// Follow a session as it happens, until it ends: runs and their output (on stdout),
    /// what participants type into a running program and test runs (on stderr).
    Watch {
        /// The session's id; its token comes from --token.
        session: String,
    },
    /// Drain the server at --url and stop it (what SIGTERM does): in a cluster it takes no
    /// more sessions, lets runs in flight finish, hands its sessions to the other replicas
    /// and exits. Needs the API key.
    Drain,
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
    /// A new session; prints its links (the candidate's to share, the interviewer's private)
    /// and tokens.
    Create {
        /// The environment (`livecode environments` lists them); by default --file's
        /// extension picks it, else the server's default.
        #[arg(long)]
        env: Option<String>,
        /// A file whose content is the session's document (else the environment's template,
        /// or the question's starter).
        #[arg(long)]
        file: Option<String>,
        /// Another file of the workspace, a tab beside the document: NAME=PATH, or a PATH
        /// named by its file name. May be given more than once.
        #[arg(long = "add", value_name = "[NAME=]PATH")]
        add: Vec<String>,
        /// Free text for your own use (at most 200 characters), shown by `sessions list`.
        #[arg(long)]
        label: Option<String>,
        /// A question's id (`POST /api/v1/questions`): its starter code and test cases.
        #[arg(long)]
        question: Option<String>,
        /// A template's id (`POST /api/v1/templates`), instead of --question: the interview
        /// moves through its questions.
        #[arg(long, conflicts_with = "question")]
        template: Option<String>,
        /// Idle time before the session expires (at most the server's maximum).
        #[arg(long, value_name = "SECONDS")]
        ttl: Option<u64>,
    },
    /// A session: status, participants, last run (with --token, or the API key).
    Show {
        /// The session's id.
        session: String,
    },
    /// End a session (its container goes; its record stays); needs the interviewer's token
    /// (--token) or the API key.
    End {
        /// The session's id.
        session: String,
    },
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    /// Every flag and argument of every command says what it is for in `--help`.
    #[test]
    fn every_argument_has_help() {
        fn check(cmd: &clap::Command, path: &str) {
            let path = format!("{path} {}", cmd.get_name());
            for arg in cmd.get_arguments() {
                let id = arg.get_id().as_str();
                if id == "help" || id == "version" {
                    continue;
                }
                assert!(arg.get_help().is_some(), "{path} {id} has no help");
            }
            for sub in cmd.get_subcommands() {
                if sub.get_name() != "help" {
                    assert!(
                        sub.get_about().is_some(),
                        "{path} {} has no help",
                        sub.get_name()
                    );
                }
                check(sub, &path);
            }
        }
        check(&Cli::command(), "");
    }
}
