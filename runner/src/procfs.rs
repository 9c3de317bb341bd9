//! Pure readers of what the kernel shows in `/proc` and the cgroup filesystem. No I/O, so
//! each is unit-tested.

/// The real uid in a `/proc/<pid>/status` text.
pub fn status_uid(status: &str) -> Option<u32> {
    status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// The OOM-kill counter in a cgroup v2 `memory.events` or a v1 `memory.oom_control` text.
pub fn oom_kills(text: &str) -> Option<u64> {
    text.lines()
        .find_map(|l| l.strip_prefix("oom_kill "))?
        .trim()
        .parse()
        .ok()
}

/// Ids and owners of SysV IPC objects in a `/proc/sysvipc/{shm,msg,sem}` table: the id is the
/// second column; `owner_columns` name the uid and creator-uid columns.
pub fn ipc_objects(table: &str, owner_columns: [usize; 2]) -> Vec<(i32, [u32; 2])> {
    table
        .lines()
        .skip(1)
        .filter_map(|line| {
            let cols: Vec<&str> = line.split_whitespace().collect();
            let id = cols.get(1)?.parse().ok()?;
            let uid = cols.get(owner_columns[0])?.parse().ok()?;
            let cuid = cols.get(owner_columns[1])?.parse().ok()?;
            Some((id, [uid, cuid]))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_real_uid() {
        let status = "Name:\tsleep\nState:\tS (sleeping)\nUid:\t1000\t1001\t1000\t1000\nGid:\t0\n";
        assert_eq!(status_uid(status), Some(1000));
        assert_eq!(status_uid("Name:\tx\n"), None);
    }

    #[test]
    fn reads_oom_kills_of_both_cgroup_versions() {
        assert_eq!(
            oom_kills("low 0\nhigh 0\nmax 3\noom 2\noom_kill 2\noom_group_kill 0\n"),
            Some(2)
        );
        assert_eq!(
            oom_kills("oom_kill_disable 0\nunder_oom 0\noom_kill 7\n"),
            Some(7)
        );
        assert_eq!(oom_kills("oom_kill_disable 0\n"), None);
    }

    #[test]
    fn reads_ipc_tables() {
        let shm = "       key      shmid perms                  size  cpid  lpid nattch   uid   gid  cuid  cgid\n\
                   1234 65538   600   1048576    12    12      0  1000  1000  1000  1000\n";
        assert_eq!(ipc_objects(shm, [7, 9]), vec![(65538, [1000, 1000])]);
    }
}
