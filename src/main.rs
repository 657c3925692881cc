//! The `bff` binary: parse configuration, initialise logging, run until
//! SIGINT/SIGTERM. Configuration errors exit with 64 (EX_USAGE).

use std::process::ExitCode;

use bff::config::{Args, Command, Config};
use clap::Parser as _;

#[path = "main_healthcheck.rs"]
mod healthcheck;
#[path = "main_sessions.rs"]
mod sessions;

const EX_USAGE: u8 = 64;

/// mimalloc: allocation was ~5 % of CPU samples on the proxy path with the
/// system allocator (bench/profile.mjs).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    bff::install_crypto_provider();
    let args = match parse_args() {
        Ok(args) => args,
        Err(code) => return code,
    };
    let admin = || admin_probe_address(args.admin_listen.as_deref());
    match &args.command {
        Some(Command::Healthcheck) => healthcheck::run(&admin()).await,
        Some(Command::Sessions { action }) => sessions::run(&args, &admin(), action).await,
        None => serve(&args).await,
    }
}

/// Loads the configuration and serves until SIGINT/SIGTERM (or prints the
/// configuration for `--check-config`).
async fn serve(args: &Args) -> ExitCode {
    let config = match Config::load(args) {
        Ok(config) => config,
        Err(err) => {
            eprintln!("bff: configuration error: {err}");
            return ExitCode::from(EX_USAGE);
        }
    };
    if args.check_config {
        #[expect(
            clippy::print_stdout,
            reason = "--check-config prints the effective configuration"
        )]
        {
            print!("{}", config.redacted());
        }
        return ExitCode::SUCCESS;
    }
    let telemetry = bff::telemetry::init(config.log_format);
    let code = match bff::start(config).await {
        Ok(running) => {
            shutdown_signal().await;
            tracing::info!("shutting down");
            running.drain_and_shutdown().await;
            ExitCode::SUCCESS
        }
        Err(err) => {
            tracing::error!(error = %err, "bff could not start");
            ExitCode::FAILURE
        }
    };
    telemetry.shutdown().await;
    code
}

/// Flags and environment; `--help`/`--version` exit 0, mistakes exit 64.
fn parse_args() -> Result<Args, ExitCode> {
    Args::try_parse().map_err(|err| {
        let _printed = err.print();
        if err.use_stderr() {
            ExitCode::from(EX_USAGE)
        } else {
            ExitCode::SUCCESS
        }
    })
}

/// The admin address to probe: a wildcard listen address becomes loopback.
fn admin_probe_address(admin_listen: Option<&str>) -> String {
    admin_listen
        .unwrap_or("127.0.0.1:9091")
        .replace("0.0.0.0", "127.0.0.1")
        .replace("[::]", "[::1]")
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let term = async {
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(mut signal) => {
                    signal.recv().await;
                }
                Err(_) => std::future::pending::<()>().await,
            }
        };
        tokio::select! { _ = ctrl_c => {}, () = term => {} }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}
