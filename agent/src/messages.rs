//! `--help`, usage errors and error chains of `vigie-agent` rendered from the catalogue
//! (`i18n`), in the language chosen before parsing.
//!
//! Help texts are looked up by the command's path: `help.scan.tls.about` for a command,
//! `help.scan.tls.arg.<id>` for one of its arguments, else `help.arg.<id>` for an argument
//! shared by several commands. The doc comments of [`crate::cli`] are the rustdoc; what a
//! person reads comes from the catalogue (a test requires a text for every argument).

use std::ffi::OsString;

use clap::{Arg, ArgAction, Command};
use vigie_model::{Catalogue, Lang};

use crate::i18n::{catalogue, t};

/// `help X Y` means `X Y --help`: clap's own `help` subcommand speaks English only, so it is
/// replaced by this rewrite, where `help` stands in place of a subcommand of `command`.
pub fn rewrite_help_subcommand(command: &Command, args: Vec<OsString>) -> Vec<OsString> {
    let mut current = command;
    let mut skip_value = false;
    for (position, arg) in args.iter().enumerate().skip(1) {
        let text = arg.to_string_lossy();
        // `--lang X` may come before the commands; any other flag ends the search.
        if std::mem::take(&mut skip_value) || text.starts_with("--lang=") {
            continue;
        }
        if text == "--lang" {
            skip_value = true;
            continue;
        }
        if text.starts_with('-') || !current.has_subcommands() {
            break;
        }
        if text == "help" {
            let mut rewritten: Vec<OsString> = args[..position].to_vec();
            rewritten.extend(args[position + 1..].iter().cloned());
            rewritten.push("--help".into());
            return rewritten;
        }
        match current.find_subcommand(text.as_ref()) {
            Some(sub) => current = sub,
            None => break,
        }
    }
    args
}

/// `command` with every help text, heading and the usage line taken from the catalogue in
/// `lang`. `prefix` names the catalogue's help keys (`help` for the agent).
pub fn localize_command(command: Command, catalogue: &Catalogue, lang: Lang) -> Command {
    let text = |key: &str| catalogue.render(lang, key, &[]);
    let template = format!(
        "{{before-help}}{{about-with-newline}}\n{} {{usage}}\n\n{{all-args}}{{after-help}}",
        text("help.heading.usage")
    );
    let command = command
        .disable_help_flag(true)
        .disable_version_flag(true)
        .disable_help_subcommand(true)
        .arg(
            Arg::new("help")
                .short('h')
                .long("help")
                .action(ArgAction::Help)
                .global(true)
                .display_order(usize::MAX)
                .help(text("help.arg.help")),
        )
        .arg(
            Arg::new("version")
                .short('V')
                .long("version")
                .action(ArgAction::Version)
                .display_order(usize::MAX)
                .help(text("help.arg.version")),
        );
    localize_tree(command, catalogue, lang, "help", &template)
}

fn localize_tree(
    mut command: Command,
    catalogue: &Catalogue,
    lang: Lang,
    path: &str,
    template: &str,
) -> Command {
    let text = |key: &str| catalogue.render(lang, key, &[]);
    if let Some(about) = catalogue.text(lang, &format!("{path}.about")) {
        command = command.about(about.to_owned()).long_about(None::<&str>);
    }
    command = command
        .help_template(template.to_owned())
        .subcommand_help_heading(text("help.heading.commands"))
        .subcommand_value_name(text("help.value.command"));
    let ids: Vec<String> = command
        .get_arguments()
        .map(|arg| arg.get_id().to_string())
        .collect();
    for id in ids {
        let help = catalogue
            .text(lang, &format!("{path}.arg.{id}"))
            .or_else(|| catalogue.text(lang, &format!("help.arg.{id}")))
            .map(str::to_owned);
        let positional = text("help.heading.arguments");
        let options = text("help.heading.options");
        command = command.mut_arg(&id, |arg| {
            let heading = if arg.is_positional() {
                positional
            } else {
                options
            };
            let mut arg = arg.help_heading(heading).hide_env(true);
            if arg.get_action().takes_values() {
                // Defaults and values are written in the catalogue's text, in its language.
                arg = arg.hide_default_value(true).hide_possible_values(true);
            }
            match help {
                Some(help) => arg.help(help).long_help(None::<&str>),
                None => arg,
            }
        });
    }
    let names: Vec<String> = command
        .get_subcommands()
        .map(|sub| sub.get_name().to_owned())
        .collect();
    for name in names {
        let sub_path = format!("{path}.{name}");
        command = command.mut_subcommand(&name, |sub| {
            localize_tree(sub, catalogue, lang, &sub_path, template)
        });
    }
    command
}

/// Every help key the command tree needs that neither language of `catalogue` has (a
/// command's `about`, an argument's text, per command or shared). Empty when complete.
pub fn missing_help_keys(command: &Command, catalogue: &Catalogue, path: &str) -> Vec<String> {
    let mut missing = Vec::new();
    let has = |key: &str| Lang::ALL.iter().all(|l| catalogue.text(*l, key).is_some());
    if !has(&format!("{path}.about")) {
        missing.push(format!("{path}.about"));
    }
    for arg in command.get_arguments() {
        let id = arg.get_id().as_str();
        if matches!(id, "help" | "version") || arg.is_hide_set() {
            continue;
        }
        let own = format!("{path}.arg.{id}");
        if !has(&own) && !has(&format!("help.arg.{id}")) {
            missing.push(own);
        }
    }
    for sub in command.get_subcommands() {
        missing.extend(missing_help_keys(
            sub,
            catalogue,
            &format!("{path}.{}", sub.get_name()),
        ));
    }
    missing
}

/// The agent's command line in `lang`: texts from the catalogue, `--lang` defaulting to the
/// language detected before parsing, and the options `scan host` ignores not listed.
pub fn command(lang: Lang) -> Command {
    localize_command(base_command(lang), catalogue(), lang)
}

/// The derived command line with `--lang`'s default and the hidden options, before its
/// texts are localized.
fn base_command(lang: Lang) -> Command {
    use clap::CommandFactory as _;
    let hide = |arg: Arg| arg.hide(true);
    crate::cli::Cli::command()
        .mut_arg("lang", |arg| arg.default_value(lang.as_str()))
        .mut_subcommand("scan", |scan| {
            scan.mut_subcommand("host", |host| {
                host.mut_arg("resolvers", hide)
                    .mut_arg("ca_file", hide)
                    .mut_arg("timeout", hide)
                    .mut_arg("concurrency", hide)
            })
        })
}

/// A command-line error of clap in `lang`, from the catalogue: what was wrong, the usage,
/// and where to read more. Help and version requests are printed as clap renders them (their
/// texts are already the catalogue's).
pub fn clap_error_text(program: &str, error: &clap::Error, lang: Lang) -> String {
    use clap::error::{ContextKind, ErrorKind};
    let context = |kind: ContextKind| {
        error
            .get(kind)
            .map(|value| value.to_string())
            .unwrap_or_default()
    };
    let key = match error.kind() {
        ErrorKind::UnknownArgument => "clap.unknown_argument",
        ErrorKind::InvalidSubcommand => "clap.invalid_subcommand",
        ErrorKind::InvalidValue | ErrorKind::ValueValidation => "clap.invalid_value",
        ErrorKind::MissingRequiredArgument => "clap.missing_required",
        ErrorKind::MissingSubcommand => "clap.missing_subcommand",
        ErrorKind::ArgumentConflict => "clap.conflict",
        ErrorKind::TooManyValues | ErrorKind::WrongNumberOfValues | ErrorKind::TooFewValues => {
            "clap.wrong_values"
        }
        _ => "clap.other",
    };
    // The reason a value parser gave (our parsers' texts, or clap's range message).
    let reason = std::error::Error::source(error)
        .map(|source| t(lang, "clap.reason", &[("reason", source.to_string())]))
        .unwrap_or_default();
    let mut text = t(
        lang,
        key,
        &[
            ("arg", context(ContextKind::InvalidArg)),
            ("value", context(ContextKind::InvalidValue)),
            ("subcommand", context(ContextKind::InvalidSubcommand)),
            ("valid", context(ContextKind::ValidValue)),
            ("reason", reason),
            ("clap", error.kind().to_string()),
        ],
    );
    let valid = context(ContextKind::ValidValue);
    if !valid.is_empty() && key == "clap.invalid_value" {
        text.push_str(&t(lang, "clap.valid_values", &[("valid", valid)]));
    }
    for kind in [ContextKind::SuggestedArg, ContextKind::SuggestedSubcommand] {
        let suggestion = context(kind);
        if !suggestion.is_empty() {
            text.push('\n');
            text.push_str(&t(lang, "clap.suggestion", &[("suggestion", suggestion)]));
        }
    }
    let usage = context(ContextKind::Usage);
    let mut out = t(
        lang,
        "error.line",
        &[("program", program.to_owned()), ("message", text)],
    );
    if !usage.is_empty() {
        // Clap's usage context starts with its own English heading.
        let usage = usage.trim();
        let usage = usage.strip_prefix("Usage:").unwrap_or(usage).trim_start();
        out.push_str("\n\n");
        out.push_str(
            catalogue()
                .text(lang, "help.heading.usage")
                .unwrap_or("Usage:"),
        );
        out.push(' ');
        out.push_str(usage);
    }
    out.push_str("\n\n");
    out.push_str(&t(lang, "clap.more", &[]));
    out
}

/// The catalogue's text of an error of the agent, when the outermost error is one it knows
/// (the others print their English chain).
pub fn error_text(error: &anyhow::Error, lang: Lang) -> Option<String> {
    use crate::config::ConfigError;
    use crate::daemon::RunError;
    use crate::outbox::OutboxError;
    use crate::scan::ScanError;
    use crate::upload::UploadError;
    let error: &(dyn std::error::Error + 'static) = error.as_ref();
    if let Some(error) = error.downcast_ref::<RunError>() {
        return match error {
            RunError::NoCollector { config } => Some(t(
                lang,
                "error.run.no_collector",
                &[("config", config.clone())],
            )),
            RunError::Upload(error) => upload_text(error, lang),
            RunError::Outbox(error) => outbox_text(error, lang),
            RunError::Scan(error) => scan_text(error, lang),
        };
    }
    if let Some(error) = error.downcast_ref::<ConfigError>() {
        return config_text(error, lang);
    }
    if let Some(error) = error.downcast_ref::<ScanError>() {
        return scan_text(error, lang);
    }
    if let Some(error) = error.downcast_ref::<OutboxError>() {
        return outbox_text(error, lang);
    }
    error
        .downcast_ref::<UploadError>()
        .and_then(|e| upload_text(e, lang))
}

/// An operating-system error in `lang`: the common kinds from the catalogue, else the
/// system's own text.
fn io_text(error: &std::io::Error, lang: Lang) -> String {
    let key = match error.kind() {
        std::io::ErrorKind::NotFound => "io.not_found",
        std::io::ErrorKind::PermissionDenied => "io.permission_denied",
        std::io::ErrorKind::AlreadyExists => "io.already_exists",
        _ => return error.to_string(),
    };
    t(lang, key, &[])
}

fn path(path: &std::path::Path) -> String {
    path.display().to_string()
}

fn config_text(error: &crate::config::ConfigError, lang: Lang) -> Option<String> {
    use crate::config::ConfigError;
    Some(match error {
        ConfigError::Read { path: file, error } => {
            let key = if error.kind() == std::io::ErrorKind::NotFound {
                "error.config.not_found"
            } else {
                "error.config.read"
            };
            t(
                lang,
                key,
                &[("path", path(file)), ("error", io_text(error, lang))],
            )
        }
        ConfigError::Invalid {
            path: file,
            line,
            column,
            key,
            message,
        } => {
            let mut place = String::new();
            if let Some(line) = line {
                place.push_str(&t(lang, "error.config.line", &[("line", line.to_string())]));
            }
            if let Some(column) = column {
                place.push_str(&t(
                    lang,
                    "error.config.column",
                    &[("column", column.to_string())],
                ));
            }
            if let Some(key) = key {
                place.push_str(&t(lang, "error.config.key", &[("key", key.clone())]));
            }
            t(
                lang,
                "error.config.invalid",
                &[
                    ("path", path(file)),
                    ("place", place),
                    ("message", message.clone()),
                ],
            )
        }
    })
}

fn scan_text(error: &crate::scan::ScanError, lang: Lang) -> Option<String> {
    use crate::scan::ScanError;
    use vigie_checks::services::scope::ScopeError;
    use vigie_checks::tls::TlsError;
    Some(match error {
        ScanError::Scope(ScopeError::OutsideAllowlist { target, address }) => t(
            lang,
            "error.scope.outside",
            &[("target", target.clone()), ("address", address.to_string())],
        ),
        ScanError::Scope(ScopeError::ResolvedOutside { name, address }) => t(
            lang,
            "error.scope.resolved_outside",
            &[("name", name.clone()), ("address", address.to_string())],
        ),
        ScanError::Scope(ScopeError::OverCap {
            count,
            cap,
            address,
        }) => t(
            lang,
            "error.scope.over_cap",
            &[
                ("count", count.to_string()),
                ("cap", cap.to_string()),
                ("address", address.to_string()),
            ],
        ),
        ScanError::Trust(TlsError::CaFileUnreadable { path: file, reason }) => t(
            lang,
            "error.ca_file.unreadable",
            &[("path", absolute(file)), ("reason", reason.clone())],
        ),
        ScanError::Trust(TlsError::CaFileNoCertificate { path: file, reason }) => t(
            lang,
            "error.ca_file.no_certificate",
            &[("path", absolute(file)), ("reason", reason.clone())],
        ),
        ScanError::Trust(TlsError::CaFileBadCertificate {
            path: file,
            index,
            reason,
        }) => t(
            lang,
            "error.ca_file.bad_certificate",
            &[
                ("path", absolute(file)),
                ("index", index.to_string()),
                ("reason", reason.clone()),
            ],
        ),
        ScanError::CaFile { path: file, error } => t(
            lang,
            "error.ca_file.unreadable",
            &[("path", absolute(file)), ("reason", io_text(error, lang))],
        ),
        ScanError::HostRoot { path: file, reason } => t(
            lang,
            "error.host_root",
            &[("path", path(file)), ("reason", reason.clone())],
        ),
        ScanError::Cancelled => t(lang, "error.scan.cancelled", &[]),
        _ => return None,
    })
}

/// A path as the process resolves it: a relative one is shown with the folder it is
/// relative to, so that the reader knows which file was meant.
fn absolute(file: &std::path::Path) -> String {
    match std::path::absolute(file) {
        Ok(resolved) if resolved != file => format!("{} ({})", file.display(), resolved.display()),
        _ => path(file),
    }
}

fn outbox_text(error: &crate::outbox::OutboxError, lang: Lang) -> Option<String> {
    use crate::outbox::OutboxError;
    Some(match error {
        OutboxError::Folder {
            path: folder,
            error,
        } => {
            let key = match error.kind() {
                std::io::ErrorKind::NotFound => "error.outbox.missing",
                _ => "error.outbox.folder",
            };
            t(
                lang,
                key,
                &[("path", path(folder)), ("error", io_text(error, lang))],
            )
        }
        OutboxError::Write { path: file, error } => t(
            lang,
            "error.outbox.write",
            &[("path", path(file)), ("error", io_text(error, lang))],
        ),
        _ => return None,
    })
}

fn upload_text(error: &crate::upload::UploadError, lang: Lang) -> Option<String> {
    use crate::upload::UploadError;
    Some(match error {
        UploadError::Token {
            path: file,
            line,
            reason,
        } => {
            let place = line
                .map(|line| t(lang, "error.token.line", &[("line", line.to_string())]))
                .unwrap_or_default();
            t(
                lang,
                "error.token",
                &[
                    ("path", path(file)),
                    ("place", place),
                    ("reason", reason.clone()),
                ],
            )
        }
        UploadError::CaFile { path: file, reason } => t(
            lang,
            "error.collector_ca_file",
            &[("path", absolute(file)), ("reason", reason.clone())],
        ),
        UploadError::Client(_) => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_catalogue_has_both_languages_with_the_same_placeholders() {
        let defects = catalogue().defects();
        assert!(defects.is_empty(), "{defects:#?}");
    }

    #[test]
    fn every_command_and_argument_has_a_help_text_in_both_languages() {
        let missing = missing_help_keys(&base_command(Lang::En), catalogue(), "help");
        assert!(missing.is_empty(), "help keys missing: {missing:#?}");
        for lang in Lang::ALL {
            command(lang).debug_assert();
        }
    }

    #[test]
    fn help_subcommand_becomes_the_help_flag() {
        let rewrite = |args: &[&str]| -> Vec<String> {
            rewrite_help_subcommand(
                &base_command(Lang::En),
                args.iter().map(OsString::from).collect(),
            )
            .into_iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect()
        };
        assert_eq!(
            rewrite(&["a", "help", "scan", "tls"]),
            ["a", "scan", "tls", "--help"]
        );
        assert_eq!(rewrite(&["a", "scan", "help"]), ["a", "scan", "--help"]);
        assert_eq!(
            rewrite(&["a", "scan", "tls", "help"]),
            ["a", "scan", "tls", "help"]
        );
        assert_eq!(
            rewrite(&["a", "scan", "--x", "help"]),
            ["a", "scan", "--x", "help"]
        );
    }
}
