//! A toolchain's resident compiler (environment.toml `daemon`, which the server passes as
//! `LIVECODE_DAEMON` and mounts [`DAEMON_DIR`] for): started with the runner, as a uid of its
//! own, in its own session. Runs cannot signal, trace or replace it (another uid; the
//! directory is its own), and the cleanup after each run leaves it alone. It dies with the
//! runner, and a daemon that ended is started again before the next run.

use std::os::unix::fs::MetadataExt;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::sys;

pub const DAEMON_DIR: &str = "/run/livecode";
pub const DAEMON_UID: u32 = 1002;
/// A daemon that keeps ending is not started more often than this.
const RESTART_EVERY: Duration = Duration::from_secs(10);

pub struct Daemon {
    command: String,
    child: Option<Child>,
    started: Option<Instant>,
}

impl Daemon {
    /// The daemon this container was made for, if any.
    pub fn from_env() -> Option<Self> {
        let command = std::env::var("LIVECODE_DAEMON").ok()?;
        if command.trim().is_empty() {
            return None;
        }
        let ours = std::fs::metadata(DAEMON_DIR).is_ok_and(|m| m.uid() == DAEMON_UID);
        if !ours {
            eprintln!("livecode-runner: no daemon: {DAEMON_DIR} is not mounted for it");
            return None;
        }
        Some(Self {
            command,
            child: None,
            started: None,
        })
    }

    /// Starts the daemon unless it runs (or was started a moment ago).
    pub fn ensure(&mut self) {
        if let Some(child) = &mut self.child {
            match child.try_wait() {
                Ok(None) => return,
                Ok(Some(status)) => eprintln!("livecode-runner: the daemon ended ({status})"),
                Err(e) => eprintln!("livecode-runner: the daemon cannot be waited for: {e}"),
            }
            self.child = None;
        }
        if self.started.is_some_and(|t| t.elapsed() < RESTART_EVERY) {
            return;
        }
        self.started = Some(Instant::now());
        // Its log is its own file, in its own directory.
        let script = format!("exec >>{DAEMON_DIR}/daemon.log 2>&1; exec {}", self.command);
        let mut cmd = Command::new("/bin/sh");
        cmd.arg("-c")
            .arg(script)
            .current_dir(DAEMON_DIR)
            .env_remove("LIVECODE_DAEMON")
            .env("HOME", DAEMON_DIR)
            .env("LANG", "C.UTF-8")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let parent = std::process::id() as i32;
        // SAFETY: child_setup only makes async-signal-safe calls (see sys.rs).
        unsafe {
            cmd.pre_exec(move || sys::child_setup(DAEMON_UID, parent, false));
        }
        match cmd.spawn() {
            Ok(child) => self.child = Some(child),
            Err(e) => eprintln!("livecode-runner: the daemon could not be started: {e}"),
        }
    }
}
