//! How a command ends: the exit codes the README lists (one home for them), and the one line on
//! stderr that says why it failed.

use std::process::ExitCode;

/// A finding, whatever its severity.
pub const SUCCESS: u8 = 0;
/// A file, a log group or AWS failed (what is read, not how it was asked for).
pub const FAILURE: u8 = 1;
/// The command line is wrong: an option, its value, or options that do not go together (clap's
/// own usage errors exit with the same code).
pub const USAGE: u8 = 2;
/// `--fail-on` was reached.
pub const FAIL_ON: u8 = 3;

/// The command line is wrong: ends with [`USAGE`].
#[derive(Debug)]
pub struct Usage(anyhow::Error);

impl std::fmt::Display for Usage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&one_line(&self.0))
    }
}

impl std::error::Error for Usage {}

/// `e` as a usage error.
pub fn usage(e: impl Into<anyhow::Error>) -> anyhow::Error {
    anyhow::Error::new(Usage(e.into()))
}

/// A command line clap refused, on one line (its first paragraph, which names the option and the
/// problem), with [`USAGE`]. Help and version print in full, as asked.
pub fn refused(e: clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion)
        || matches!(e.kind(), ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand)
    {
        e.exit()
    }
    eprintln!("{}", first_paragraph(&e.render().to_string()));
    ExitCode::from(USAGE)
}

/// clap's message up to its usage line, on one line, with a pointer to `--help`.
fn first_paragraph(rendered: &str) -> String {
    let first = rendered.split("\n\n").next().unwrap_or_default();
    format!("{} (see --help)", first.split_whitespace().collect::<Vec<_>>().join(" "))
}

/// Prints `e` on one line and gives its exit code.
pub fn fail(e: &anyhow::Error) -> ExitCode {
    eprintln!("error: {}", one_line(e));
    ExitCode::from(if e.is::<Usage>() { USAGE } else { FAILURE })
}

/// The error and its causes on one line, each said once: a cause whose text the message already
/// carries (`read error: Is a directory` over the `Is a directory` it wraps) is not repeated.
pub fn one_line(e: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if out.contains(&text) {
            continue;
        }
        if !out.is_empty() {
            out.push_str(": ");
        }
        out.push_str(&text);
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_are_one_line_each_cause_once() {
        let io = std::io::Error::from_raw_os_error(21);
        let e = anyhow::Error::new(apigw_4xx::ingest::input::InputError::Io(io)).context("dir.json");
        assert_eq!(one_line(&e), "dir.json: read error: Is a directory (os error 21)");
        let e = anyhow::anyhow!("line one\nline two").context("f");
        assert_eq!(one_line(&e), "f: line one line two");
    }

    #[test]
    fn clap_errors_are_one_line() {
        let rendered = "error: the following required arguments were not provided:\n  --stage <NAME>\n\nUsage: apigw-4xx analyze --stage <NAME> --api-id <ID> [FILES]...\n\nFor more information, try '--help'.\n";
        assert_eq!(
            first_paragraph(rendered),
            "error: the following required arguments were not provided: --stage <NAME> (see --help)"
        );
    }

    #[test]
    fn usage_errors_exit_2_the_rest_1() {
        let bad = usage(anyhow::anyhow!("--since soon: expected a duration"));
        assert_eq!(bad.to_string(), "--since soon: expected a duration");
        assert_eq!(fail(&bad), ExitCode::from(USAGE));
        assert_eq!(fail(&anyhow::anyhow!("log group g not found")), ExitCode::from(FAILURE));
        assert_eq!(fail(&usage(anyhow::anyhow!("x")).context("--rules f")), ExitCode::from(USAGE));
    }
}
