//! A workspace no run can brick: whatever a run leaves in the scratch places (a tree 5,000
//! levels deep, 100,000 entries in one directory, a 64 MiB file), the next run starts in a
//! clean sandbox. (A sandbox the runner cannot clear is replaced: `replacement`.)

use serde_json::{json, Value};

use crate::support::*;

/// What the next run prints when every scratch place is empty but for its own file.
pub(crate) const CHECK: &str = r#"import os
left = {d: sorted(os.listdir(d)) for d in ["/workspace", "/tmp", "/dev/shm"]}
print("clean" if left == {"/workspace": ["main.py"], "/tmp": [], "/dev/shm": []} else left)
"#;

pub(crate) fn completed(result: &Value) {
    assert_eq!(result["status"], "completed", "{result}");
    assert_eq!(result["exit_code"], 0, "{result}");
}

/// Runs `litter` in a Python session, then twice the check: each must find a clean sandbox.
async fn leaves_the_next_run_working(litter: &str, expect: &str) {
    let server = TestServer::start(|c| {
        // Room and time for the litter itself, on a loaded machine.
        c.limits.run_timeout_seconds = 60;
        c.limits.memory_mib = 512;
        c.limits.workspace_mib = 96;
    })
    .await;
    let api = server.api();
    let session = server.python("print('hello')\n").await;
    let (id, token) = (&session.id, &session.candidate);
    api.wait_status(id, token, "ready").await;

    let littered = api.execute(id, token, json!({"code": litter})).await;
    completed(&littered);
    assert_eq!(littered["stdout"], expect, "{littered}");

    // The interviewer's run and the candidate's next both start clean.
    for bearer in [&session.interviewer, token] {
        let next = api.execute(id, bearer, json!({"code": CHECK})).await;
        completed(&next);
        assert_eq!(next["stdout"], "clean\n", "{next}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tree_5000_levels_deep_leaves_the_next_run_working() {
    let litter = r#"import os
for root in ["/workspace", "/tmp"]:
    os.chdir(root)
    for i in range(5000):
        os.mkdir("d")
        os.chdir("d")
    open("leaf", "w").write("deep\n")
    # A level the run locked on its way down is no obstacle either.
    os.chmod(".", 0o500)
print("deep")
"#;
    leaves_the_next_run_working(litter, "deep\n").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_directory_of_100000_entries_leaves_the_next_run_working() {
    let litter = r#"import os
os.mkdir("/workspace/wide")
for i in range(100000):
    os.close(os.open(f"/workspace/wide/f{i}", os.O_CREAT | os.O_WRONLY))
os.symlink("/etc", "/workspace/wide/etc")
os.chmod("/workspace/wide", 0)
print(len(os.listdir("/tmp")), "wide")
"#;
    leaves_the_next_run_working(litter, "0 wide\n").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_64_mib_file_leaves_the_next_run_working() {
    let litter = r#"import os
with open("/workspace/big", "wb") as f:
    for _ in range(64):
        f.write(b"x" * (1 << 20))
print(os.path.getsize("/workspace/big") >> 20, "MiB")
"#;
    leaves_the_next_run_working(litter, "64 MiB\n").await;
}
