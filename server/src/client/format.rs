//! What the client's commands print: tables for people (`--json` prints the server's answer
//! as it is, for scripts).

use chrono::{DateTime, Utc};
use serde_json::Value;

/// Columns padded to their widest cell, two spaces apart; the last column is not padded.
fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let mut out = String::new();
        let last = cells.len().saturating_sub(1);
        for (i, cell) in cells.into_iter().enumerate() {
            out.push_str(cell);
            if i < last {
                let pad = widths[i] - cell.chars().count() + 2;
                out.extend(std::iter::repeat_n(' ', pad));
            }
        }
        out.truncate(out.trim_end().len());
        out.push('\n');
        out
    };
    let mut out = line(header.to_vec());
    for row in rows {
        out.push_str(&line(row.iter().map(String::as_str).collect()));
    }
    out
}

/// `name  value` lines, the values aligned.
fn fields(rows: &[(&str, String)]) -> String {
    let width = rows.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    rows.iter()
        .map(|(k, v)| format!("{k:<width$}  {v}\n"))
        .collect()
}

/// A timestamp of the API as `2026-12-07 16:20:05 UTC`.
fn when(v: &Value) -> String {
    v.as_str()
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map(|t| {
            t.with_timezone(&Utc)
                .format("%Y-%m-%d %H:%M:%S UTC")
                .to_string()
        })
        .unwrap_or_else(|| "–".into())
}

/// How long until `v` from `now`: `in 29m 55s`; `–` when it has passed or is missing.
fn until(v: &Value, now: DateTime<Utc>) -> String {
    let Some(at) = v
        .as_str()
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
    else {
        return "–".into();
    };
    let secs = (at.with_timezone(&Utc) - now).num_seconds();
    if secs <= 0 {
        return "–".into();
    }
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    if h > 0 {
        format!("in {h}h {m}m")
    } else if m > 0 {
        format!("in {m}m {s}s")
    } else {
        format!("in {s}s")
    }
}

fn is_live(session: &Value) -> bool {
    matches!(
        session["status"].as_str(),
        Some("creating" | "ready" | "executing")
    )
}

fn text_or_dash(v: &Value) -> String {
    match v.as_str() {
        Some(s) if !s.is_empty() => s.to_string(),
        _ => "–".into(),
    }
}

/// A run summary as `completed · exit 0 · 21 ms`.
fn run_summary(run: &Value) -> String {
    if run.is_null() {
        return "–".into();
    }
    let mut out = run["status"].as_str().unwrap_or("?").to_string();
    if let Some(code) = run["exit_code"].as_i64() {
        out.push_str(&format!(" · exit {code}"));
    }
    out.push_str(&format!(" · {} ms", run["duration_ms"]));
    out
}

/// `sessions list` as a table, newest first as the server answers.
pub fn sessions_table(list: &Value, now: DateTime<Utc>) -> String {
    let sessions = list.as_array().cloned().unwrap_or_default();
    if sessions.is_empty() {
        return "no sessions\n".into();
    }
    let rows: Vec<Vec<String>> = sessions
        .iter()
        .map(|s| {
            vec![
                text_or_dash(&s["session_id"]),
                text_or_dash(&s["status"]),
                text_or_dash(&s["environment"]),
                when(&s["created_at"]),
                if is_live(s) {
                    until(&s["expires_at"], now)
                } else {
                    "–".into()
                },
                s["participants"].as_array().map_or(0, Vec::len).to_string(),
                run_summary(&s["last_execution"]),
                text_or_dash(&s["label"]),
            ]
        })
        .collect();
    table(
        &[
            "SESSION",
            "STATUS",
            "ENVIRONMENT",
            "CREATED",
            "EXPIRES",
            "PEOPLE",
            "LAST RUN",
            "LABEL",
        ],
        &rows,
    )
}

/// `sessions create`'s answer: the links, which says which one to share.
pub fn created_table(created: &Value, now: DateTime<Utc>) -> String {
    fields(&[
        ("session", text_or_dash(&created["session_id"])),
        ("environment", text_or_dash(&created["environment"])),
        ("status", text_or_dash(&created["status"])),
        (
            "expires",
            format!(
                "{} ({} if idle)",
                when(&created["expires_at"]),
                until(&created["expires_at"], now)
            ),
        ),
        (
            "candidate",
            format!("{}  (share this)", text_or_dash(&created["candidate_url"])),
        ),
        (
            "interviewer",
            format!("{}  (private)", text_or_dash(&created["interviewer_url"])),
        ),
        ("embed", text_or_dash(&created["embed_url"])),
        ("candidate token", text_or_dash(&created["candidate_token"])),
        (
            "interviewer token",
            text_or_dash(&created["interviewer_token"]),
        ),
    ])
}

/// `sessions show`'s answer.
pub fn session_table(session: &Value, now: DateTime<Utc>) -> String {
    let people: Vec<String> = session["participants"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| {
            format!(
                "{} ({})",
                text_or_dash(&p["name"]),
                text_or_dash(&p["role"])
            )
        })
        .collect();
    let expires = if is_live(session) {
        format!(
            "{} ({})",
            when(&session["expires_at"]),
            until(&session["expires_at"], now)
        )
    } else {
        "–".into()
    };
    let last_run = &session["last_execution"];
    let last_run = if last_run.is_null() {
        "–".into()
    } else {
        format!(
            "{}, at {}",
            run_summary(last_run),
            when(&last_run["finished_at"])
        )
    };
    fields(&[
        ("session", text_or_dash(&session["session_id"])),
        ("status", text_or_dash(&session["status"])),
        ("environment", text_or_dash(&session["environment"])),
        ("label", text_or_dash(&session["label"])),
        ("created", when(&session["created_at"])),
        ("last activity", when(&session["last_activity_at"])),
        ("expires", expires),
        (
            "participants",
            if people.is_empty() {
                "none".into()
            } else {
                people.join(", ")
            },
        ),
        ("last run", last_run),
    ])
}

/// `sessions end`'s answer.
pub fn ended_line(ended: &Value) -> String {
    format!(
        "session {}: {}\n",
        text_or_dash(&ended["session_id"]),
        text_or_dash(&ended["status"])
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-12-07T16:00:00Z")
            .expect("a time")
            .with_timezone(&Utc)
    }

    #[test]
    fn a_table_aligns_its_columns_and_shows_what_is_missing_as_a_dash() {
        let list = json!([
            {"session_id": "a1", "status": "ready", "environment": "python",
             "created_at": "2026-12-07T15:59:00Z", "expires_at": "2026-12-07T16:29:30Z",
             "participants": [{"id": 1, "name": "Ada", "role": "candidate"}],
             "last_execution": {"status": "completed", "exit_code": 0, "duration_ms": 21},
             "label": "onsite"},
            {"session_id": "b2", "status": "stopped", "environment": "go",
             "created_at": "2026-12-07T15:00:00Z", "expires_at": "2026-12-07T15:30:00Z",
             "participants": [], "last_execution": null, "label": null}
        ]);
        assert_eq!(
            sessions_table(&list, now()),
            "SESSION  STATUS   ENVIRONMENT  CREATED                  EXPIRES     PEOPLE  LAST RUN                    LABEL\n\
             a1       ready    python       2026-12-07 15:59:00 UTC  in 29m 30s  1       completed · exit 0 · 21 ms  onsite\n\
             b2       stopped  go           2026-12-07 15:00:00 UTC  –           0       –                           –\n"
        );
        assert_eq!(sessions_table(&json!([]), now()), "no sessions\n");
    }

    #[test]
    fn created_says_which_link_to_share() {
        let created = json!({"session_id": "a1", "environment": "python", "status": "creating",
            "expires_at": "2026-12-07T16:30:00Z", "candidate_url": "http://h/s/a1#token=c",
            "interviewer_url": "http://h/s/a1#token=i", "embed_url": "http://h/embed/a1#token=i",
            "candidate_token": "c", "interviewer_token": "i"});
        let text = created_table(&created, now());
        assert!(
            text.contains("candidate          http://h/s/a1#token=c  (share this)\n"),
            "{text}"
        );
        assert!(
            text.contains("interviewer        http://h/s/a1#token=i  (private)\n"),
            "{text}"
        );
        assert!(
            text.contains("expires            2026-12-07 16:30:00 UTC (in 30m 0s if idle)\n"),
            "{text}"
        );
    }
}
