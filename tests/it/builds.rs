//! Builds: the cache in the session's container (an unchanged program is not rebuilt, a run
//! cannot write the cache), and the toolchains' resident compilers (kotlind, javad), which
//! serve builds and which runs can neither stop nor replace.

use std::process::Command;
use std::time::Duration;

use serde_json::{json, Value};

use crate::support::*;

/// `script` run by `sh` in the container as root (what a run cannot see, from outside).
fn in_container(container: &str, script: &str) -> String {
    let out = Command::new("docker")
        .args(["exec", "-u", "0", container, "sh", "-c", script])
        .output()
        .expect("docker exec");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn execute_ok(result: &Value) -> &Value {
    assert_eq!(result["status"], "completed", "{result}");
    assert_eq!(result["exit_code"], 0, "{result}");
    result
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unchanged_program_is_not_rebuilt_and_runs_cannot_write_the_cache() {
    let server = TestServer::start(|_| {}).await;
    let api = server.api();
    let hello = "#include <stdio.h>\nint main(void) { puts(\"built\"); return 0; }\n";
    let session = server
        .session(json!({"environment": "c", "code": hello}))
        .await;
    let id = &session.id;
    let token = &session.candidate;
    api.wait_status(id, token, "ready").await;

    let first = api.execute(id, token, json!({})).await;
    execute_ok(&first);
    assert_eq!(first["stdout"], "built\n");
    assert_eq!(first["build_cached"], false, "{first}");
    assert!(first["build_time"].as_f64().unwrap_or(0.0) > 0.0, "{first}");

    let again = api.execute(id, token, json!({})).await;
    execute_ok(&again);
    assert_eq!(again["stdout"], "built\n", "the cached build runs the same");
    assert_eq!(again["build_cached"], true, "{again}");
    assert_eq!(again["build_time"], 0.0, "{again}");

    // Any input that changes (here a file beside the program) is a new build.
    let other = api
        .execute(id, token, json!({"files": {"notes.txt": "x\n"}}))
        .await;
    execute_ok(&other);
    assert_eq!(other["build_cached"], false, "{other}");

    // The socket's run_finished says so too, and the history keeps it.
    let mut ws = server.ws(id, token).await;
    let run = run_code(&mut ws, "main.c", hello).await;
    run.assert_completed(0);
    assert_eq!(run.finished["build_cached"], true, "{}", run.describe());

    let poison = r#"#include <errno.h>
#include <stdio.h>
#include <string.h>
int main(void) {
    FILE *f = fopen("/var/cache/livecode/planted", "w");
    printf("%s\n", f ? "written" : strerror(errno));
    return 0;
}
"#;
    let tried = api.execute(id, token, json!({"code": poison})).await;
    execute_ok(&tried);
    assert_eq!(tried["stdout"], "Permission denied\n", "{tried}");
}

/// What a run tries against the daemon: stop it, replace its socket, write beside it.
const ATTACK: &str = "rm -f /run/livecode/compiler.sock; echo x > /run/livecode/planted; \
    for p in /proc/[0-9]*; do kill -9 ${p#/proc/}; done";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kotlin_builds_go_through_kotlind_which_runs_cannot_harm() {
    let attack = format!(
        "fun main() {{\n    ProcessBuilder(\"sh\", \"-c\", \"{}\").inheritIO().start().waitFor()\n}}\n",
        ATTACK.replace('$', "${'$'}")
    );
    let changed = "fun main() = println(\"still served\")\n";
    resident_compiler("kotlin", &attack, changed).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn java_builds_go_through_javad_which_runs_cannot_harm() {
    let attack = format!(
        "public class Main {{\n    public static void main(String[] a) throws Exception {{\n        \
         new ProcessBuilder(\"sh\", \"-c\", \"{ATTACK}\").inheritIO().start().waitFor();\n    }}\n}}\n"
    );
    let changed = "class Main { public static void main(String[] a) { System.out.println(\"still served\"); } }\n";
    resident_compiler("java", &attack, changed).await;
}

/// The environment's daemon serves its builds (its log counts them), and a run that attacks
/// it leaves it, its socket and its directory as they were.
async fn resident_compiler(environment: &str, attack: &str, changed: &str) {
    let server = TestServer::start(|_| {}).await;
    let api = server.api();
    let session = server.session(json!({"environment": environment})).await;
    let (id, token) = (&session.id, &session.candidate);
    api.wait_status(id, token, "ready").await;
    let container = session_container(&api, &session).await;
    let daemon = || {
        in_container(
            &container,
            r#"for d in /proc/[0-9]*; do [ "$(stat -c %u $d)" = 1002 ] && echo "${d#/proc/} $(cat $d/comm)"; done; true"#,
        )
    };
    let compiles = || {
        in_container(&container, "cat /run/livecode/daemon.log")
            .matches(": compiled ")
            .count()
    };
    let warm = wait_until(Duration::from_secs(90), || {
        !in_container(&container, "[ -S /run/livecode/compiler.sock ] && echo up").is_empty()
    })
    .await;
    assert!(warm, "the daemon never listened: {}", daemon());
    let before = daemon();
    assert!(
        before.contains(" java"),
        "the daemon runs as uid 1002: {before}"
    );

    let hello = api.execute(id, token, json!({})).await;
    execute_ok(&hello);
    assert_eq!(hello["stdout"], "Hello, livecode!\n");
    assert_eq!(compiles(), 1, "the build went through the daemon");

    let tried = api.execute(id, token, json!({"code": attack})).await;
    assert_ne!(tried["status"], "compile_error", "{tried}");
    assert_eq!(daemon(), before, "the daemon is the same process");
    assert_eq!(
        in_container(
            &container,
            "[ -S /run/livecode/compiler.sock ] && echo socket; [ -e /run/livecode/planted ] && echo planted; true"
        ),
        "socket\n"
    );

    let after = api.execute(id, token, json!({"code": changed})).await;
    execute_ok(&after);
    assert_eq!(after["stdout"], "still served\n");
    assert_eq!(compiles(), 3, "both later builds went through the daemon");
}
