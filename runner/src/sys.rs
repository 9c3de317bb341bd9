//! The few libc calls std does not wrap. Credentials of one thread are changed with raw
//! syscalls: glibc's wrappers change every thread of the process, which is exactly what the
//! worker thread must not do.

use std::ffi::{CStr, CString};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, IntoRawFd, OwnedFd};
use std::os::raw::{c_char, c_int, c_long, c_uint, c_void};
use std::ptr::NonNull;

pub const SIGKILL: c_int = 9;
/// No space left on device.
pub const ENOSPC: i32 = 28;
const SIGXFSZ: c_int = 25;
const SIG_DFL: usize = 0;
const SIG_IGN: usize = 1;
const PR_SET_PDEATHSIG: c_int = 1;
const PR_SET_DUMPABLE: c_int = 4;
const O_WRONLY: c_int = 1;
const O_CLOEXEC: c_int = 0o2000000;
const IPC_RMID: c_int = 0;
const RLIMIT_NPROC: c_int = 6;

#[repr(C)]
struct Rlimit {
    cur: u64,
    max: u64,
}
const O_RDONLY: c_int = 0;
const O_DIRECTORY: c_int = 0o200000;
const O_NOFOLLOW: c_int = 0o400000;
const AT_REMOVEDIR: c_int = 0x200;
/// Is a directory: what `unlink` answers for one.
pub const EISDIR: i32 = 21;
pub const ENOTEMPTY: i32 = 39;
pub const ENOENT: i32 = 2;
pub const EACCES: i32 = 13;

#[cfg(target_arch = "x86_64")]
mod nr {
    pub const SETGROUPS: i64 = 116;
    pub const SETRESUID: i64 = 117;
    pub const SETRESGID: i64 = 119;
}
#[cfg(target_arch = "aarch64")]
mod nr {
    pub const SETGROUPS: i64 = 159;
    pub const SETRESUID: i64 = 147;
    pub const SETRESGID: i64 = 149;
}

extern "C" {
    fn kill(pid: c_int, sig: c_int) -> c_int;
    fn setsid() -> c_int;
    fn prctl(option: c_int, arg2: usize, arg3: usize, arg4: usize, arg5: usize) -> c_int;
    fn syscall(number: c_long, ...) -> c_long;
    fn signal(sig: c_int, handler: usize) -> usize;
    fn open(path: *const c_char, flags: c_int, ...) -> c_int;
    fn write(fd: c_int, buf: *const c_void, count: usize) -> isize;
    fn close(fd: c_int) -> c_int;
    fn getppid() -> c_int;
    fn pipe2(fds: *mut c_int, flags: c_int) -> c_int;
    fn geteuid() -> u32;
    fn shmctl(id: c_int, cmd: c_int, buf: *mut c_void) -> c_int;
    fn msgctl(id: c_int, cmd: c_int, buf: *mut c_void) -> c_int;
    fn semctl(id: c_int, num: c_int, cmd: c_int, ...) -> c_int;
    fn setrlimit(resource: c_int, rlim: *const Rlimit) -> c_int;
    fn openat(dirfd: c_int, path: *const c_char, flags: c_int, ...) -> c_int;
    fn unlinkat(dirfd: c_int, path: *const c_char, flags: c_int) -> c_int;
    fn fchmodat(dirfd: c_int, path: *const c_char, mode: c_uint, flags: c_int) -> c_int;
    fn fchmod(fd: c_int, mode: c_uint) -> c_int;
    fn fdopendir(fd: c_int) -> *mut c_void;
    fn readdir(dir: *mut c_void) -> *const Dirent;
    fn rewinddir(dir: *mut c_void);
    fn closedir(dir: *mut c_void) -> c_int;
    fn dirfd(dir: *mut c_void) -> c_int;
    fn __errno_location() -> *mut c_int;
}

/// `struct dirent` of glibc on 64-bit Linux (the same for x86_64 and aarch64).
#[repr(C)]
struct Dirent {
    d_ino: u64,
    d_off: i64,
    d_reclen: u16,
    d_type: u8,
    d_name: [c_char; 256],
}

/// An open directory, read one entry at a time; closed when dropped. Paths are relative to
/// it, and nothing here follows a symlink.
pub struct Dir(NonNull<c_void>);

// The stream is used by one thread at a time; moving it between threads is fine.
unsafe impl Send for Dir {}

impl Dir {
    /// Opens `path` (absolute) as a directory; a symlink there is an error.
    pub fn open(path: &str) -> io::Result<Self> {
        let path = cstring(path.as_bytes())?;
        // SAFETY: a NUL-terminated path and integer flags.
        let fd = unsafe {
            openat(
                -100, // AT_FDCWD; the path is absolute
                path.as_ptr(),
                O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC,
            )
        };
        check(fd as c_long)?;
        // SAFETY: the fd is new and ours.
        Self::from_fd(unsafe { OwnedFd::from_raw_fd(fd) })
    }

    fn from_fd(fd: OwnedFd) -> io::Result<Self> {
        // SAFETY: fdopendir takes ownership of the fd when it succeeds.
        let dir = unsafe { fdopendir(fd.as_raw_fd()) };
        match NonNull::new(dir) {
            Some(dir) => {
                let _ = fd.into_raw_fd();
                Ok(Self(dir))
            }
            None => Err(io::Error::last_os_error()),
        }
    }

    fn fd(&self) -> c_int {
        // SAFETY: the stream is open.
        unsafe { dirfd(self.0.as_ptr()) }
    }

    /// The directory `name` in this one (`..` included), never through a symlink.
    pub fn open_child(&self, name: &CStr) -> io::Result<Self> {
        // SAFETY: a NUL-terminated name and integer flags.
        let fd = unsafe {
            openat(
                self.fd(),
                name.as_ptr(),
                O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC,
            )
        };
        check(fd as c_long)?;
        // SAFETY: the fd is new and ours.
        Self::from_fd(unsafe { OwnedFd::from_raw_fd(fd) })
    }

    /// The next entry's name (`.` and `..` skipped); `None` at the end.
    pub fn next_name(&mut self) -> io::Result<Option<CString>> {
        loop {
            // SAFETY: errno is this thread's; readdir's answer is valid until the next call.
            unsafe {
                *__errno_location() = 0;
                let entry = readdir(self.0.as_ptr());
                if entry.is_null() {
                    let errno = *__errno_location();
                    return if errno == 0 {
                        Ok(None)
                    } else {
                        Err(io::Error::from_raw_os_error(errno))
                    };
                }
                let name = CStr::from_ptr((*entry).d_name.as_ptr());
                if name.to_bytes() != b"." && name.to_bytes() != b".." {
                    return Ok(Some(name.to_owned()));
                }
            }
        }
    }

    /// Reads the directory again from its start.
    pub fn rewind(&mut self) {
        // SAFETY: the stream is open.
        unsafe { rewinddir(self.0.as_ptr()) }
    }

    /// Removes `name`: a file or symlink, or with `dir` an empty directory.
    pub fn unlink(&self, name: &CStr, dir: bool) -> io::Result<()> {
        let flags = if dir { AT_REMOVEDIR } else { 0 };
        // SAFETY: a NUL-terminated name and integer flags.
        check(unsafe { unlinkat(self.fd(), name.as_ptr(), flags) } as c_long)
    }

    /// Sets the mode of the entry `name` (a directory: no symlink is followed, as `name`
    /// was found to be a directory and nothing can swap it meanwhile).
    pub fn chmod_child(&self, name: &CStr, mode: u32) -> io::Result<()> {
        // SAFETY: a NUL-terminated name and integers.
        check(unsafe { fchmodat(self.fd(), name.as_ptr(), mode, 0) } as c_long)
    }

    /// Sets this directory's own mode.
    pub fn chmod(&self, mode: u32) -> io::Result<()> {
        // SAFETY: integers only.
        check(unsafe { fchmod(self.fd(), mode) } as c_long)
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        // SAFETY: the stream is open and closed once.
        unsafe { closedir(self.0.as_ptr()) };
    }
}

fn cstring(bytes: &[u8]) -> io::Result<CString> {
    CString::new(bytes).map_err(|_| io::Error::from_raw_os_error(22))
}

fn check(ret: c_long) -> io::Result<()> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// Sends `sig` to `pid` (`-1`: every process this thread may signal but its own and init).
pub fn send_signal(pid: i32, sig: c_int) -> io::Result<()> {
    // SAFETY: kill(2) takes plain integers.
    check(unsafe { kill(pid, sig) } as c_long)
}

pub fn euid() -> u32 {
    // SAFETY: no arguments, cannot fail.
    unsafe { geteuid() }
}

/// Keeps other processes of our uid from reading our memory or file descriptors (the
/// kernel also refuses ptrace to a process that is not dumpable).
pub fn set_not_dumpable() -> io::Result<()> {
    // SAFETY: prctl(2) with integer arguments.
    check(unsafe { prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) } as c_long)
}

/// The runner itself ignores SIGXFSZ, so writing a file past the container's file-size limit
/// is an error it reports, not its death. Runs get the default back (see [`child_setup`]).
pub fn ignore_sigxfsz() {
    // SAFETY: installing SIG_IGN has no handler code to be unsafe.
    unsafe { signal(SIGXFSZ, SIG_IGN) };
}

/// Changes the calling thread's credentials only: real, effective and saved uid and gid and
/// no supplementary groups.
pub fn set_thread_credentials(uids: [u32; 3], gids: [u32; 3]) -> io::Result<()> {
    // SAFETY: raw syscalls with integer arguments; they touch only this thread's credentials.
    unsafe {
        check(syscall(nr::SETGROUPS, 0 as c_long, std::ptr::null::<u32>()))?;
        check(syscall(
            nr::SETRESGID,
            gids[0] as c_long,
            gids[1] as c_long,
            gids[2] as c_long,
        ))?;
        check(syscall(
            nr::SETRESUID,
            uids[0] as c_long,
            uids[1] as c_long,
            uids[2] as c_long,
        ))
    }
}

/// A pipe, both ends close-on-exec: (read, write). Its inode belongs to the calling thread's
/// filesystem uid, which decides who may reopen it through `/dev/stdin` and the like.
pub fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0 as c_int; 2];
    // SAFETY: pipe2 writes two fds into the array it is given.
    check(unsafe { pipe2(fds.as_mut_ptr(), O_CLOEXEC) } as c_long)?;
    // SAFETY: both fds are new and owned by nobody else.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// Removes a SysV IPC object (`kind`: "shm", "msg" or "sem").
pub fn remove_ipc(kind: &str, id: i32) -> io::Result<()> {
    // SAFETY: IPC_RMID takes no buffer (NULL is allowed).
    let ret = unsafe {
        match kind {
            "shm" => shmctl(id, IPC_RMID, std::ptr::null_mut()),
            "msg" => msgctl(id, IPC_RMID, std::ptr::null_mut()),
            _ => semctl(id, 0, IPC_RMID),
        }
    };
    check(ret as c_long)
}

/// Caps the processes of the caller's real uid at `n` (RLIMIT_NPROC, soft and hard), for it
/// and whatever it starts. Async-signal-safe: called between fork and exec.
///
/// Only for gVisor (see `run.rs`): its kernel counts the processes of a uid inside the
/// sandbox alone, whereas under runc the count is the host's, shared with every container.
pub fn limit_processes(n: u64) -> io::Result<()> {
    let limit = Rlimit { cur: n, max: n };
    // SAFETY: setrlimit reads the struct it is given.
    check(unsafe { setrlimit(RLIMIT_NPROC, &limit) } as c_long)
}

/// What a run's process does between fork and exec, as root still: prefer it to the runner
/// (and to a toolchain's daemon) when memory runs out (`first_to_go`), give it its own
/// session, become `uid` with no capabilities, die with the runner. Only async-signal-safe
/// calls: this runs in a forked child.
pub fn child_setup(uid: u32, parent: i32, first_to_go: bool) -> io::Result<()> {
    const OOM_ADJ: &[u8] = b"/proc/self/oom_score_adj\0";
    // SAFETY: each call takes integers or a static NUL-terminated path; none allocates.
    unsafe {
        // Raising our own score needs no privilege; after the uid change the file would no
        // longer be ours to write (the process is not dumpable until exec).
        let fd = if first_to_go {
            open(OOM_ADJ.as_ptr().cast(), O_WRONLY | O_CLOEXEC)
        } else {
            -1
        };
        if fd >= 0 {
            write(fd, b"1000".as_ptr().cast(), 4);
            close(fd);
        }
        check(setsid() as c_long)?;
        check(syscall(nr::SETGROUPS, 0 as c_long, std::ptr::null::<u32>()))?;
        check(syscall(
            nr::SETRESGID,
            uid as c_long,
            uid as c_long,
            uid as c_long,
        ))?;
        // All three uids non-zero: the kernel clears every capability.
        check(syscall(
            nr::SETRESUID,
            uid as c_long,
            uid as c_long,
            uid as c_long,
        ))?;
        // After the uid change, which clears it.
        check(prctl(PR_SET_PDEATHSIG, SIGKILL as usize, 0, 0, 0) as c_long)?;
        if getppid() != parent {
            return Err(io::Error::other("the runner is gone"));
        }
        signal(SIGXFSZ, SIG_DFL);
    }
    Ok(())
}
