//! The defaults parse, and every bound is enforced.
// figment::Jail fixes the closure's error type; it is large, and only tests use it.
#![allow(clippy::result_large_err)]

use super::*;

#[test]
fn defaults_match_the_documented_values() {
    let c = Config::defaults();
    assert_eq!(c.listen.to_string(), "127.0.0.1:8080");
    assert_eq!(c.data_dir, PathBuf::from("./data"));
    assert!(c.open_mode());
    assert_eq!(c.limits.memory_mib, 256);
    assert_eq!(c.limits.cpus, 0.5);
    assert_eq!(c.limits.pids, 64);
    assert_eq!(c.limits.run_timeout_seconds, 10);
    assert_eq!(c.limits.output_limit_bytes, 1 << 20);
    assert_eq!(c.limits.code_limit_bytes, 256 << 10);
    assert_eq!(c.sessions.idle_ttl_seconds, 30 * 60);
    assert_eq!(c.sessions.max_lifetime_seconds, 4 * 3600);
    assert_eq!(c.quotas.max_live_sessions_per_ip, 20);
    assert!(c.cors_origins.is_empty());
}

#[test]
fn origins_are_scheme_host_and_port() {
    assert_eq!(
        url_origin("https://A.example.com:8443/x?y").as_deref(),
        Some("https://a.example.com:8443")
    );
    assert_eq!(
        url_origin("http://localhost:8080").as_deref(),
        Some("http://localhost:8080")
    );
    assert_eq!(url_origin("ftp://x"), None);
    assert_eq!(url_origin("https://"), None);
    assert_eq!(url_origin("https://u@evil"), None);
}

#[test]
fn environment_variables_override_the_file() {
    figment::Jail::expect_with(|jail| {
        jail.create_file(
            "extra.toml",
            "api_key = \"from-file\"\n[limits]\npids = 99\n",
        )?;
        jail.set_env("LIVECODE_API_KEY", "from-env");
        jail.set_env("LIVECODE_LIMITS__MEMORY_MIB", "512");
        let c = Config::load(Some(Path::new("extra.toml"))).expect("valid");
        assert_eq!(c.api_key, "from-env");
        assert_eq!(c.limits.pids, 99);
        assert_eq!(c.limits.memory_mib, 512);
        assert!(!c.open_mode());
        Ok(())
    });
}

#[test]
fn invalid_values_are_refused_with_the_key_named() {
    figment::Jail::expect_with(|jail| {
        jail.set_env("LIVECODE_LIMITS__PIDS", "2");
        let err = Config::load(None).expect_err("pids too low");
        assert!(err.to_string().contains("limits.pids"), "{err}");
        jail.set_env("LIVECODE_LIMITS__PIDS", "64");
        jail.set_env("LIVECODE_SESSIONS__SCORECARD_WINDOW_SECONDS", "0");
        let err = Config::load(None).expect_err("no scorecard window");
        assert!(
            err.to_string().contains("scorecard_window_seconds"),
            "{err}"
        );
        Ok(())
    });
}

#[test]
fn a_missing_config_file_is_an_error() {
    let err = Config::load(Some(Path::new("/nonexistent/livecode.toml"))).expect_err("missing");
    assert!(err.to_string().contains("no config file"), "{err}");
}

#[test]
fn the_store_is_sqlite_unless_a_postgres_url_is_given() {
    assert_eq!(Config::defaults().store.url, "");
    figment::Jail::expect_with(|jail| {
        jail.set_env(
            "LIVECODE_STORE__URL",
            "postgres://lc:hunter2@db.internal:5432/livecode",
        );
        let c = Config::load(None).expect("a PostgreSQL URL");
        assert_eq!(
            c.store.url,
            "postgres://lc:hunter2@db.internal:5432/livecode"
        );
        assert!(
            !format!("{c:?}").contains("hunter2"),
            "the password stays out of logs"
        );
        for (url, named) in [
            ("mysql://db/livecode", "PostgreSQL URL"),
            ("postgres://db/livecode?sslmode=require", "sslmode=require"),
            ("postgres://db:notaport/livecode", "store.url"),
        ] {
            jail.set_env("LIVECODE_STORE__URL", url);
            let err = Config::load(None).expect_err(url);
            assert!(err.to_string().contains(named), "{url}: {err}");
        }
        Ok(())
    });
}

#[test]
fn cluster_mode_needs_postgres_and_an_address_the_peers_can_reach() {
    assert_eq!(Config::defaults().cluster.advertise_url, "");
    figment::Jail::expect_with(|jail| {
        jail.set_env("LIVECODE_CLUSTER__ADVERTISE_URL", "http://10.0.0.5:8080");
        let err = Config::load(None).expect_err("no store.url");
        assert!(err.to_string().contains("store.url is empty"), "{err}");
        jail.set_env("LIVECODE_STORE__URL", "postgres://db/livecode");
        let c = Config::load(None).expect("a cluster replica");
        assert_eq!(c.cluster.advertise_url, "http://10.0.0.5:8080");
        for url in ["10.0.0.5:8080", "http://", "http://10.0.0.5:8080/livecode"] {
            jail.set_env("LIVECODE_CLUSTER__ADVERTISE_URL", url);
            let err = Config::load(None).expect_err(url);
            assert!(
                err.to_string().contains("cluster.advertise_url"),
                "{url}: {err}"
            );
        }
        jail.set_env("LIVECODE_CLUSTER__ADVERTISE_URL", "http://10.0.0.5:8080");
        jail.set_env("LIVECODE_CLUSTER__LEASE_SECONDS", "1");
        let err = Config::load(None).expect_err("a lease of one heartbeat");
        assert!(err.to_string().contains("cluster.lease_seconds"), "{err}");
        Ok(())
    });
}

#[test]
fn retention_is_forever_by_default_and_takes_a_fraction_of_a_day() {
    assert_eq!(Config::defaults().sessions.retention(), None);
    figment::Jail::expect_with(|jail| {
        jail.set_env("LIVECODE_SESSIONS__RETENTION_DAYS", "0.5");
        let config = Config::load(None).expect("a fraction");
        assert_eq!(
            config.sessions.retention(),
            Some(chrono::Duration::hours(12))
        );
        for bad in ["-1", "36501"] {
            jail.set_env("LIVECODE_SESSIONS__RETENTION_DAYS", bad);
            let err = Config::load(None).expect_err(bad);
            assert!(err.to_string().contains("sessions.retention_days"), "{err}");
        }
        Ok(())
    });
}
