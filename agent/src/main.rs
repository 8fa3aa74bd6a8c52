//! `vigie-agent`: a thin binary over the `vigie_agent` library.

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::FromArgMatches as _;
use tracing_subscriber::EnvFilter;
use vigie_agent::cli::{Cli, Commands};
use vigie_agent::i18n::{self, t};
use vigie_agent::messages;
use vigie_agent::Exit;

const PROGRAM: &str = "vigie-agent";

fn main() -> ExitCode {
    // The language is known before parsing, so that --help and usage errors speak it.
    let lang = i18n::process_lang();
    let command = messages::command(lang);
    let args = messages::rewrite_help_subcommand(&command, std::env::args_os().collect());
    // Usage errors end here with status 2 and the catalogue's message.
    let cli = match command
        .try_get_matches_from(args)
        .and_then(|matches| Cli::from_arg_matches(&matches))
    {
        Ok(cli) => cli,
        Err(error) => return clap_exit(&error, lang),
    };
    let lang = cli.lang;
    init_logging(&cli);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            let message = t(lang, "error.runtime", &[("error", error.to_string())]);
            eprintln!("{}", error_line(lang, message));
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
            eprintln!(
                "{}",
                error_line(lang, vigie_agent::error_text(&error, lang))
            );
            Exit::for_error(&error).into()
        }
    }
}

fn error_line(lang: vigie_model::Lang, message: String) -> String {
    t(
        lang,
        "error.line",
        &[("program", PROGRAM.to_owned()), ("message", message)],
    )
}

/// Help and version go to standard output with status 0; usage errors to standard error
/// with status 2.
fn clap_exit(error: &clap::Error, lang: vigie_model::Lang) -> ExitCode {
    use clap::error::ErrorKind;
    match error.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
            let _ = error.print();
            ExitCode::SUCCESS
        }
        ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            let _ = error.print();
            Exit::Usage.into()
        }
        _ => {
            eprintln!("{}", messages::clap_error_text(PROGRAM, error, lang));
            Exit::Usage.into()
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
