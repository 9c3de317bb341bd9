//! Docker and the process, from outside: containers by filter or id, other `docker` commands,
//! the container a session has, polling a condition, this process's memory, paths in the
//! repository.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use super::{Api, Session};

/// Container ids matching every `filters` entry (`docker ps --filter`); `all` includes
/// stopped ones.
pub fn docker_ps(filters: &[&str], all: bool) -> Vec<String> {
    let mut cmd = Command::new("docker");
    cmd.arg("ps").arg("-q").arg("--no-trunc");
    if all {
        cmd.arg("-a");
    }
    for f in filters {
        cmd.args(["--filter", f]);
    }
    let out = cmd.output().expect("run docker ps");
    assert!(
        out.status.success(),
        "docker ps failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .filter(|l| !l.is_empty())
        .collect()
}

/// What `docker ARGS` printed, trimmed; panics if it failed.
pub fn docker_output(args: &[&str]) -> String {
    let out = Command::new("docker").args(args).output().expect("docker");
    assert!(
        out.status.success(),
        "docker {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Whether a container with this id exists, running or not.
pub fn container_exists(id: &str) -> bool {
    !docker_ps(&[&format!("id={id}")], true).is_empty()
}

/// The container a live session has once it is ready, from `GET /sessions/{id}` (which
/// container serves which session is the store's business, not a label's).
pub async fn session_container(api: &Api<'_>, session: &Session) -> String {
    let got = api
        .wait_status(&session.id, &session.interviewer, "ready")
        .await;
    got["container_id"]
        .as_str()
        .unwrap_or_else(|| panic!("the session has no container: {got}"))
        .to_string()
}

/// Polls `cond` every 100 ms until it holds or `wait` passes; returns whether it held.
pub async fn wait_until(wait: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + wait;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// This process's resident memory (the in-process server included), in bytes.
pub fn vm_rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("read /proc/self/status");
    let line = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .expect("VmRSS line");
    let kib: u64 = line
        .split_whitespace()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .expect("VmRSS value");
    kib * 1024
}

/// The path of a file at the repository root.
pub fn repo_path(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}
