//! The container a spec makes: mounts, limits and the runner's variables, without an engine.

use super::*;

fn spec(runtime: Option<&str>, build_cache_mib: u64, daemon: Option<&str>) -> SandboxSpec {
    SandboxSpec {
        environment: "python".into(),
        image: "livecode-env-python:test".into(),
        memory_mib: 256,
        cpus: 0.5,
        cpu_shares: 1024,
        pids: 64,
        workspace_mib: 16,
        tmp_mib: 32,
        build_cache_mib,
        daemon: daemon.map(str::to_string),
        nofile: 256,
        runtime: runtime.map(str::to_string),
    }
}

#[test]
fn runs_write_only_to_their_mounts() {
    let plain = tmpfs_mounts(&spec(None, 0, None));
    let mut paths: Vec<&str> = plain.keys().map(String::as_str).collect();
    paths.sort();
    assert_eq!(paths, ["/tmp", WORKSPACE]);
    assert!(plain[WORKSPACE].contains(&format!("size=16m,uid={RUN_UID}")));
    let full = tmpfs_mounts(&spec(None, 64, Some("kotlind")));
    assert!(full[BUILD_CACHE].starts_with("rw,noexec,"));
    assert!(full[DAEMON_DIR].contains(&format!("uid={DAEMON_UID}")));

    let config = host_config(&spec(None, 0, None));
    assert_eq!(config.readonly_rootfs, Some(true));
    assert_eq!(config.memory, config.memory_swap, "no swap beyond memory");
    assert_eq!(config.memory, Some(256 * 1024 * 1024));
    assert_eq!(config.pids_limit, Some(64));
    assert_eq!(config.cap_drop, Some(vec!["ALL".to_string()]));
}

#[test]
fn under_gvisor_the_runner_bounds_the_run() {
    assert!(runner_env(&spec(None, 0, None)).is_empty());
    let gvisor = spec(Some("runsc"), 0, Some("kotlind"));
    assert_eq!(
        runner_env(&gvisor),
        [
            "LIVECODE_DAEMON=kotlind".to_string(),
            format!("{}=63", livecode_runner::RUN_NPROC_ENV)
        ]
    );
    assert_eq!(
        host_config(&gvisor).pids_limit,
        Some(GVISOR_BASE_PIDS + GVISOR_PIDS_PER_PROCESS * 64)
    );
}
