//! The worker thread: the only thread of the runner that acts as the run's uid. It kills every
//! process of that uid, proves none is left, empties what runs may write, and writes the next
//! run's files.
//!
//! Its credentials are real and saved uid [`WORKER_UID`], effective uid [`RUN_UID`]: the
//! effective uid lets it signal and own what runs own, and the other two, which no run has,
//! keep runs from signalling it (the kernel checks the target's real and saved uid). With
//! all three uids non-zero it has no capabilities at all. `kill(-1)` from it reaches exactly
//! the run's uid (never the runner, the keeper or init) and needs no new process, so it
//! works when a fork bomb holds every pid; the kernel makes it atomic against `fork`.

use std::ffi::CStr;
use std::fs;
use std::io::{self, Write};
use std::os::fd::OwnedFd;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use livecode_runner::protocol::File;
use livecode_runner::{procfs, CLEAN_WITHIN, KILL_WAIT};

use crate::cache::Piece;
use crate::sys;

/// The uid runs execute as.
pub const RUN_UID: u32 = 1000;
/// The worker's real and saved uid: one no process in the container has.
const WORKER_UID: u32 = 1001;
/// Where runs may write; emptied after every run.
const SCRATCH: [&str; 4] = ["/workspace", "/tmp", "/dev/shm", "/dev/mqueue"];

enum Job {
    KillAll,
    Clean,
    Write(Vec<File>),
    Restore(mpsc::Receiver<Piece>),
    Pipes(usize),
}

enum Reply {
    Done(Result<(), String>),
    Pipes(io::Result<Vec<(OwnedFd, OwnedFd)>>),
}

/// A handle on the worker thread; each call waits for its answer.
pub struct Worker {
    jobs: mpsc::Sender<(Job, mpsc::Sender<Reply>)>,
}

impl Worker {
    /// Starts the thread and switches its credentials; fails if it cannot.
    pub fn start() -> io::Result<Self> {
        let (tx, rx) = mpsc::channel::<(Job, mpsc::Sender<Reply>)>();
        let (ready_tx, ready_rx) = mpsc::channel();
        thread::Builder::new()
            .name("worker".into())
            .spawn(move || {
                let creds = sys::set_thread_credentials(
                    [WORKER_UID, RUN_UID, WORKER_UID],
                    [WORKER_UID, RUN_UID, WORKER_UID],
                );
                let ok = creds.is_ok();
                let _ = ready_tx.send(creds);
                if !ok {
                    return;
                }
                for (job, reply) in rx {
                    let result = match job {
                        Job::KillAll => Reply::Done(kill_all()),
                        Job::Clean => Reply::Done(kill_all().and_then(|()| clean())),
                        Job::Write(files) => Reply::Done(write_files(&files)),
                        Job::Restore(pieces) => Reply::Done(
                            restore(&pieces).map_err(|e| format!("copying a cached build: {e}")),
                        ),
                        Job::Pipes(n) => Reply::Pipes((0..n).map(|_| sys::pipe()).collect()),
                    };
                    let _ = reply.send(result);
                }
            })?;
        ready_rx
            .recv()
            .map_err(|_| io::Error::other("the worker thread died"))??;
        Ok(Self { jobs: tx })
    }

    fn ask(&self, job: Job) -> Option<Reply> {
        let (tx, rx) = mpsc::channel();
        self.jobs.send((job, tx)).ok()?;
        rx.recv().ok()
    }

    fn call(&self, job: Job) -> Result<(), String> {
        match self.ask(job) {
            Some(Reply::Done(result)) => result,
            _ => Err("the worker thread is gone".into()),
        }
    }

    /// Pipes owned by the run's uid, so that a program may reopen its own stdin, stdout or
    /// stderr (`/dev/stdin`, `> /dev/stderr`): a pipe made by root is root's alone.
    pub fn pipes(&self, n: usize) -> io::Result<Vec<(OwnedFd, OwnedFd)>> {
        match self.ask(Job::Pipes(n)) {
            Some(Reply::Pipes(result)) => result,
            _ => Err(io::Error::other("the worker thread is gone")),
        }
    }

    /// Kills every process of the run's uid and waits until none is left.
    pub fn kill_all(&self) -> Result<(), String> {
        self.call(Job::KillAll)
    }

    /// [`Self::kill_all`], then empties every place a run may write.
    pub fn clean(&self) -> Result<(), String> {
        self.call(Job::Clean)
    }

    /// Writes files into the (empty) workspace, never following a symlink.
    pub fn write(&self, files: Vec<File>) -> Result<(), String> {
        self.call(Job::Write(files))
    }

    /// Writes a cached build's files into the workspace, as the run's own, from what the
    /// cache thread opened (see `cache.rs`): the worker cannot read the cache itself.
    pub fn restore(&self, pieces: mpsc::Receiver<Piece>) -> Result<(), String> {
        self.call(Job::Restore(pieces))
    }
}

/// Pids of the run's uid that still exist (zombies included: they hold a pid).
fn run_pids() -> Vec<i32> {
    let Ok(dir) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| {
        let name = e.ok()?.file_name();
        let pid: i32 = name.to_str()?.parse().ok()?;
        let status = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
        (procfs::status_uid(&status) == Some(RUN_UID)).then_some(pid)
    })
    .collect()
}

fn kill_all() -> Result<(), String> {
    let deadline = Instant::now() + KILL_WAIT;
    loop {
        // ESRCH (nothing to signal) is the common answer.
        let _ = sys::send_signal(-1, sys::SIGKILL);
        let left = run_pids();
        if left.is_empty() {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(format!(
                "{} process(es) of the run could not be stopped: {left:?}",
                left.len()
            ));
        }
        thread::sleep(Duration::from_millis(2));
    }
}

/// Empties every scratch place, then removes the run uid's SysV IPC objects. Safe without
/// locks: no process of the run's uid exists while it works, so nothing can swap a directory
/// for a symlink under it. Any failure leaves the sandbox broken (the server replaces it).
fn clean() -> Result<(), String> {
    // A run owns /workspace and may have locked it; the next one finds it as it was made.
    let _ = fs::set_permissions("/workspace", fs::Permissions::from_mode(0o755));
    let deadline = Instant::now() + CLEAN_WITHIN;
    for dir in SCRATCH {
        let Ok(root) = sys::Dir::open(dir) else {
            continue; // absent (no /dev/mqueue) or not ours to read
        };
        empty(root, deadline).map_err(|e| format!("emptying {dir}: {e}"))?;
    }
    for (kind, owners) in [("shm", [7, 9]), ("msg", [7, 9]), ("sem", [4, 6])] {
        let Ok(table) = fs::read_to_string(format!("/proc/sysvipc/{kind}")) else {
            continue;
        };
        for (id, uids) in procfs::ipc_objects(&table, owners) {
            if uids.contains(&RUN_UID) {
                let _ = sys::remove_ipc(kind, id);
            }
        }
    }
    Ok(())
}

/// Removes everything in `root` (which stays), holding one directory open at a time (two for
/// a moment when going down or up) whatever the tree's depth or width: a directory that is
/// not empty is entered, emptied, and left through `..` for its parent's next pass to
/// remove. Nothing is followed: a symlink is removed as a file, and a directory is opened
/// with `O_NOFOLLOW`. A directory a run made unreadable is made readable first: it is ours.
fn empty(root: sys::Dir, deadline: Instant) -> io::Result<()> {
    let mut dir = root;
    let mut depth = 0usize;
    loop {
        if Instant::now() > deadline {
            return Err(io::Error::other(format!(
                "still not empty after {} s",
                CLEAN_WITHIN.as_secs()
            )));
        }
        let mut full = None;
        let mut seen = false;
        while let Some(name) = dir.next_name()? {
            seen = true;
            let removed = remove_entry(&dir, &name).map_err(|e| at(depth, &name, "removing", e))?;
            if !removed {
                full = Some(name);
                break;
            }
        }
        if let Some(name) = full {
            let child = match dir.open_child(&name) {
                Err(e) if e.raw_os_error() == Some(sys::EACCES) => dir
                    .chmod_child(&name, 0o700)
                    .and_then(|()| dir.open_child(&name)),
                opened => opened,
            }
            .map_err(|e| at(depth, &name, "opening", e))?;
            // Its entries can be removed only if it is writable and searchable.
            child
                .chmod(0o700)
                .map_err(|e| at(depth, &name, "unlocking", e))?;
            dir = child;
            depth += 1;
        } else if depth > 0 {
            // Empty now: its parent removes it on its next pass.
            dir = dir.open_child(c"..")?;
            depth -= 1;
        } else if seen {
            // Entries went while it was read: read it again until a pass finds none.
            dir.rewind();
        } else {
            return Ok(());
        }
    }
}

/// Removes a file, a symlink or an empty directory; false for a directory with entries.
fn remove_entry(dir: &sys::Dir, name: &CStr) -> io::Result<bool> {
    let gone = |e: &io::Error| e.raw_os_error() == Some(sys::ENOENT);
    match dir.unlink(name, false) {
        Ok(()) => return Ok(true),
        Err(e) if gone(&e) => return Ok(true),
        Err(e) if e.raw_os_error() == Some(sys::EISDIR) => {}
        Err(e) => return Err(e),
    }
    match dir.unlink(name, true) {
        Ok(()) => Ok(true),
        Err(e) if gone(&e) => Ok(true),
        Err(e) if e.raw_os_error() == Some(sys::ENOTEMPTY) => Ok(false),
        Err(e) => Err(e),
    }
}

/// An error about entry `name`, `depth` levels below the scratch place's root.
fn at(depth: usize, name: &CStr, doing: &str, e: io::Error) -> io::Error {
    io::Error::new(
        e.kind(),
        format!(
            "{doing} {:?} ({depth} levels down): {e}",
            name.to_string_lossy()
        ),
    )
}

fn write_files(files: &[File]) -> Result<(), String> {
    let root = Path::new("/workspace");
    for file in files {
        let parts: Vec<&str> = file.path.parts().collect();
        let mut dir = root.to_path_buf();
        for part in &parts[..parts.len() - 1] {
            dir.push(part);
            match fs::symlink_metadata(&dir) {
                Ok(meta) if meta.is_dir() => {}
                Ok(_) => return Err(format!("{}: {} is not a directory", file.path, part)),
                Err(_) => fs::DirBuilder::new()
                    .mode(0o755)
                    .create(&dir)
                    .map_err(|e| format!("{}: {e}", file.path))?,
            }
        }
        // create_new is O_CREAT|O_EXCL: it fails on anything already there, a symlink
        // included, instead of following it.
        let mut out = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o644)
            .open(dir.join(parts[parts.len() - 1]))
            .map_err(|e| format!("{}: {e}", file.path))?;
        out.write_all(&file.content)
            .map_err(|e| format!("{}: {}", file.path, write_error(&e)))?;
    }
    Ok(())
}

/// Writes the pieces of a cached build into the workspace until the cache says it is done;
/// never follows a symlink in it (new files are O_EXCL, directories must be directories).
fn restore(pieces: &mpsc::Receiver<Piece>) -> io::Result<()> {
    let root = Path::new("/workspace");
    for piece in pieces {
        match piece {
            Piece::Dir(rel) => {
                let target = root.join(rel);
                match fs::symlink_metadata(&target) {
                    Ok(m) if m.is_dir() => {}
                    Ok(_) => return Err(io::Error::other("a file is in the way of a directory")),
                    Err(_) => fs::DirBuilder::new().mode(0o755).create(&target)?,
                }
            }
            Piece::File(rel, mode, mut from) => {
                let mut to = fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(mode)
                    .open(root.join(rel))?;
                io::copy(&mut from, &mut to)?;
            }
            Piece::End(result) => return result.map_err(io::Error::other),
        }
    }
    Err(io::Error::other("the cache stopped before the end"))
}

/// The reasons a candidate can act on, in words; the rest as the system says them.
fn write_error(e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::StorageFull => "no space left in the workspace".into(),
        io::ErrorKind::FileTooLarge => "file too large for the workspace".into(),
        _ => e.to_string(),
    }
}
