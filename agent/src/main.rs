//! `vigie-agent`: a thin binary over the `vigie_agent` library.

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;
use tracing_subscriber::EnvFilter;
use vigie_agent::cli::{Cli, Commands};
use vigie_agent::Exit;

fn main() -> ExitCode {
    // Usage errors end here with status 2 and clap's message.
    let cli = Cli::parse();
    init_logging(&cli);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("vigie-agent: error: cannot start the async runtime: {error}");
            return Exit::Usage.into();
        }
    };
    let result = runtime.block_on(async {
        let command = cli.into_command()?;
        vigie_agent::execute(command).await
    });
    match result {
        Ok(exit) => exit.into(),
        Err(error) => {
            eprintln!("vigie-agent: error: {error:#}");
            Exit::for_error(&error).into()
        }
    }
}

/// Logs go to standard error (stdout carries only the report). `VIGIE_LOG` (e.g. `debug`,
/// `vigie_agent=debug`) overrides the default: warnings for a scan, info for `run`.
fn init_logging(cli: &Cli) {
    let default = match cli.command {
        Commands::Run(_) => "info",
        Commands::Scan { .. } | Commands::Vulndb { .. } => "warn",
    };
    let filter = EnvFilter::try_from_env("VIGIE_LOG").unwrap_or_else(|_| EnvFilter::new(default));
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(!no_color && std::io::stderr().is_terminal())
        .init();
}
