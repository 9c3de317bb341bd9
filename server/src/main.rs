//! The `livecode` binary: parse the command line, set up logging, wire signals to a
//! cancellation token, and call into the library.

use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use livecode::cli::{Cli, Command, ImagesCommand, SessionsCommand};
use livecode::client::{self, Client, Interrupts, NewSession, Outcome};
use livecode::config::{Config, LogFormat};
use livecode::environments::Environments;
use livecode::sandbox::DockerSandbox;
use tokio_util::sync::CancellationToken;
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    // A config that does not load is reported by the command itself, in text.
    let format = Config::load(cli.config.as_deref()).map_or(LogFormat::Text, |c| c.log_format);
    // On a terminal, `images build` shows a bar per image; the log says only what goes wrong.
    let bars = matches!(cli.command, Some(Command::Images { .. }))
        && std::io::IsTerminal::is_terminal(&std::io::stderr());
    if bars {
        livecode::environments::images::show_progress();
    }
    let default_filter = if bars { "warn" } else { "info,tower_http=warn" };
    let filter =
        EnvFilter::try_from_env("LIVECODE_LOG").unwrap_or_else(|_| EnvFilter::new(default_filter));
    match format {
        LogFormat::Text => tracing_subscriber::fmt().with_env_filter(filter).init(),
        LogFormat::Json => tracing_subscriber::fmt()
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .with_env_filter(filter)
            .init(),
    }
    let result = match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(cli.config).await,
        Command::Images {
            command: ImagesCommand::Build { names, parallel },
        } => build_images(cli.config, names, parallel).await,
        Command::Environments { markdown } => list_environments(cli.config, markdown).await,
        Command::Drain => Client::new(&cli.url, cli.api_key)
            .drain()
            .await
            .map(|answer| println!("{answer}")),
        Command::Run { file, env, stdin } => {
            // Exits at once: a read of the terminal's stdin may still be waiting, and would hold
            // the runtime's shutdown until Enter.
            std::process::exit(run(Client::new(&cli.url, cli.api_key), file, env, stdin).await)
        }
        Command::Sessions { json, command } => {
            sessions(
                Client::new(&cli.url, cli.api_key).with_token(cli.token),
                command,
                json,
            )
            .await
        }
        Command::Watch { session } => match cli.token {
            Some(token) => {
                Client::new(&cli.url, cli.api_key)
                    .watch(&session, &token)
                    .await
            }
            None => Err(anyhow::anyhow!(
                "watch needs a session token (--token or LIVECODE_TOKEN)"
            )),
        },
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("livecode: {err:#}");
            ExitCode::FAILURE
        }
    }
}

/// `livecode run`: reports what went wrong, the program's own output aside, and answers the
/// exit code (`RunEnd::exit_code`).
async fn run(client: Client, file: String, env: Option<String>, stdin: Option<String>) -> i32 {
    // Listening before the session exists, so that Ctrl+C at any moment ends it.
    let mut interrupts = match Interrupts::listen() {
        Ok(interrupts) => interrupts,
        Err(err) => {
            eprintln!("livecode: listening for Ctrl+C: {err}");
            return 1;
        }
    };
    let end = match client.run(&file, env, stdin, &mut interrupts).await {
        Ok(end) => end,
        Err(err) => {
            eprintln!("livecode: {err:#}");
            return 1;
        }
    };
    match (&end.outcome, &end.cleanup) {
        (Ok(Outcome::Interrupted), Ok(())) => {
            eprintln!("livecode: interrupted; session {} ended", end.session)
        }
        (Ok(Outcome::Interrupted), Err(_)) => eprintln!("livecode: interrupted"),
        (Ok(Outcome::Exited(_)), _) => {}
        (Err(err), _) => eprintln!("livecode: {err:#}"),
    }
    if let Err(err) = &end.cleanup {
        eprintln!(
            "livecode: could not end session {}: {err:#}\n\
             It stays live until it expires; end it with:\n  \
             livecode sessions end {} --token {}",
            end.session, end.session, end.interviewer_token
        );
    }
    end.exit_code()
}

async fn sessions(client: Client, command: SessionsCommand, json: bool) -> anyhow::Result<()> {
    let now = chrono::Utc::now();
    let (answer, text) = match command {
        SessionsCommand::List => {
            let list = client.sessions_list().await?;
            let text = client::sessions_table(&list, now);
            (list, text)
        }
        SessionsCommand::Create {
            env,
            file,
            add,
            label,
            question,
            template,
            ttl,
        } => {
            let created = client
                .sessions_create(NewSession {
                    env,
                    file,
                    add,
                    label,
                    question,
                    template,
                    ttl_seconds: ttl,
                })
                .await?;
            let text = client::created_table(&created, now);
            (created, text)
        }
        SessionsCommand::Show { session } => {
            let shown = client.sessions_show(&session).await?;
            let text = client::session_table(&shown, now);
            (shown, text)
        }
        SessionsCommand::End { session } => {
            let ended = client.sessions_end(&session).await?;
            let text = client::ended_line(&ended);
            (ended, text)
        }
    };
    if json {
        println!("{}", serde_json::to_string_pretty(&answer)?);
    } else {
        print!("{text}");
    }
    Ok(())
}

async fn serve(config: Option<std::path::PathBuf>) -> anyhow::Result<()> {
    let config = Config::load(config.as_deref())?;
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("binding {}", config.listen))?;
    let shutdown = CancellationToken::new();
    tokio::spawn(shutdown_signal(shutdown.clone()));
    livecode::run(config, listener, shutdown).await
}

async fn build_images(
    config: Option<std::path::PathBuf>,
    names: Vec<String>,
    parallel: Option<usize>,
) -> anyhow::Result<()> {
    let config = Config::load(config.as_deref())?;
    let environments = Environments::load(&config.environments_dir)?;
    for name in &names {
        anyhow::ensure!(
            environments.get(name).is_some(),
            "no environment named '{name}' (known: {})",
            environments.names().join(", ")
        );
    }
    let docker = DockerSandbox::connect(&config.docker.host, &config.instance).await?;
    let results = livecode::environments::images::build(
        &docker,
        &environments,
        &names,
        false,
        parallel.unwrap_or(config.parallel_builds),
    )
    .await;
    let failed: Vec<String> = results
        .into_iter()
        .filter_map(|r| r.err())
        .map(|e| e.to_string())
        .collect();
    for env in environments
        .iter()
        .filter(|e| names.is_empty() || names.contains(&e.name))
    {
        println!(
            "{:<12} {:<8} {}",
            env.name,
            if env.is_ready() { "ready" } else { "FAILED" },
            env.version().unwrap_or_default()
        );
    }
    if !failed.is_empty() {
        anyhow::bail!(
            "{} image build(s) failed:\n{}",
            failed.len(),
            failed.join("\n\n")
        );
    }
    Ok(())
}

async fn list_environments(
    config: Option<std::path::PathBuf>,
    markdown: bool,
) -> anyhow::Result<()> {
    let config = Config::load(config.as_deref())?;
    let environments = Environments::load(&config.environments_dir)?;
    let docker = DockerSandbox::connect(&config.docker.host, &config.instance).await?;
    // Marks built images ready and reads their versions; builds nothing.
    livecode::environments::images::mark_built(&docker, &environments).await?;
    livecode::environments::images::read_versions(&docker, &environments, 4).await;
    if markdown {
        print!("{}", livecode::environments::markdown_table(&environments));
        return Ok(());
    }
    for env in environments.iter() {
        println!(
            "{:<12} {:<12} {:<8} {}",
            env.name,
            env.settings.filename,
            if env.is_ready() { "ready" } else { "missing" },
            env.version()
                .unwrap_or_else(|| env.settings.description.clone())
        );
    }
    Ok(())
}

/// Ctrl-C or SIGTERM cancels the token; a second signal exits at once.
async fn shutdown_signal(token: CancellationToken) {
    let ctrl_c = async {
        tokio::signal::ctrl_c()
            .await
            .expect("installing the Ctrl-C handler")
    };
    #[cfg(unix)]
    let terminate = async {
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("installing the SIGTERM handler")
            .recv()
            .await;
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = terminate => {}
    }
    tracing::info!("shutting down; containers stay for the next start");
    token.cancel();
}
