//! The `rsearch` binary: parse the command line, run it, map the outcome to an exit code
//! (0 hits, 1 no hits, 2 error as one line on stderr; a closed pipe exits quietly).

use std::process::ExitCode;

use rsearch::cli::Cli;
use rsearch::commands::{self, Outcome};
use rsearch::output::terminal_safe;

fn main() -> ExitCode {
    // Panics are bugs; report them as one line like any other error, without a backtrace.
    std::panic::set_hook(Box::new(|_| {}));
    let cli = match Cli::from_env() {
        Ok(cli) => cli,
        Err(e) if e.use_stderr() => {
            let message = format!("{}{}", one_line(&e.to_string()), dash_hint(&e));
            eprintln!("rsearch: {}", terminal_safe(&message));
            return ExitCode::from(2);
        }
        Err(e) => {
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
    };
    match std::panic::catch_unwind(|| commands::run(cli)) {
        Ok(Ok(Outcome::Success)) => ExitCode::SUCCESS,
        Ok(Ok(Outcome::NoHits)) => ExitCode::from(1),
        Ok(Err(e)) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Ok(Err(e)) => {
            eprintln!("rsearch: {}", terminal_safe(&one_line(&format!("{e:#}"))));
            ExitCode::from(2)
        }
        Err(panic) => {
            let what = panic
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| panic.downcast_ref::<&str>().copied())
                .unwrap_or("unknown");
            eprintln!("rsearch: internal error: {}", terminal_safe(&one_line(what)));
            ExitCode::from(2)
        }
    }
}

/// A query that opens with `-` (`rsearch query -media`) reads as a flag; the fix is `--`.
fn dash_hint(error: &clap::Error) -> String {
    if error.kind() != clap::error::ErrorKind::UnknownArgument {
        return String::new();
    }
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.iter().position(|a| a == "query") {
        Some(at) => match args[at + 1..].iter().find(|a| a.starts_with('-') && *a != "--") {
            Some(word) => format!("; to search for {word}, write: rsearch query -- {word}"),
            None => String::new(),
        },
        None => String::new(),
    }
}

/// Joins a multi-line message (clap's usage errors) into one line, dropping usage hints.
fn one_line(message: &str) -> String {
    let message = message.strip_prefix("error: ").unwrap_or(message);
    message
        .lines()
        .take_while(|line| {
            !line.starts_with("Usage:")
                && !line.trim_start().starts_with("tip:")
                && !line.starts_with("For more information")
        })
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error
        .chain()
        .filter_map(|cause| cause.downcast_ref::<std::io::Error>())
        .any(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
}
