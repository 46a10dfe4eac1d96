//! Text whose lines start with their event's timestamp, in every layout the AWS tools write it:
//! - `create-export-task` objects: `2025-11-24T16:00:00.000Z <message>`;
//! - `aws logs tail --format short`: `2025-11-24T16:00:00 <message>`;
//! - `aws logs tail` (`--format detailed`, the default): `2025-11-24T16:00:00.123000+00:00 <log
//!   stream> <message>`, the timestamp in Python's `isoformat` of a UTC time;
//! - `aws logs tail --format json`: the same, a JSON message pretty-printed on the lines after it
//!   (other messages stay on the line);
//! - a console copy: the timestamp alone on its line, the message (often pretty-printed JSON) on
//!   the lines after it.
//!
//! Terminal noise is read past: the colours the CLI writes on a terminal (or with `--color on`), and
//! the `^C` a `--follow` run ends with. Lines without a timestamp of their own continue the message
//! before them.

use crate::base::time::{parse_iso8601, EpochMillis};

/// Where the message starts after the timestamp.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Layout {
    /// Right after it (`create-export-task`, `aws logs tail --format short`, a console copy).
    Message,
    /// After the log stream's name (`aws logs tail`, `--format detailed` and `--format json`).
    StreamThenMessage,
}

impl Layout {
    /// The layout a text's first timestamp tells: only `aws logs tail` writes Python's `isoformat`
    /// of a UTC time (`+00:00`, with six digits of fraction or none), and then a stream name.
    pub(super) fn of(timestamp: &str) -> Layout {
        let b = timestamp.as_bytes();
        let python_utc = b.ends_with(b"+00:00")
            && match b.len() {
                25 => true,
                32 => b[19] == b'.' && b[20..26].iter().all(u8::is_ascii_digit),
                _ => false,
            };
        if python_utc {
            Layout::StreamThenMessage
        } else {
            Layout::Message
        }
    }
}

/// A line that starts an event: its timestamp, the timestamp's own text, and its message (empty
/// when the message is on the lines after it). `None` for a line without a timestamp of its own.
pub(super) fn split(line: &str) -> Option<(EpochMillis, &str, &str)> {
    let (first, rest) = line.split_once(' ').unwrap_or((line, ""));
    Some((parse_iso8601(first)?, first, rest))
}

/// The message of an event's first line, after its log stream's name in `layout`.
pub(super) fn message(rest: &str, layout: Layout) -> &str {
    match layout {
        Layout::Message => rest,
        Layout::StreamThenMessage => rest.split_once(' ').map_or("", |(_, m)| m),
    }
}

/// What a terminal adds to a `--follow` run that is no log line: the `^C` that ends it.
pub(super) fn is_noise(line: &str) -> bool {
    line.trim() == "^C"
}

/// `line` without the colours (`ESC [ … m`) a terminal run of the AWS CLI puts around the timestamp
/// and the stream name; the line itself when it has none (the usual case: no copy).
pub(super) fn without_colors<'a>(line: &'a str, scratch: &'a mut String) -> &'a str {
    if !line.starts_with('\x1b') {
        return line;
    }
    scratch.clear();
    let mut rest = line;
    while let Some(at) = rest.find('\x1b') {
        scratch.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        rest = match after.strip_prefix('[') {
            Some(params) => {
                let len = params.bytes().take_while(|b| b.is_ascii_digit() || *b == b';').count();
                match params[len..].strip_prefix('m') {
                    Some(tail) => tail,
                    None => after,
                }
            }
            None => after,
        };
    }
    scratch.push_str(rest);
    scratch
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_layout_from_its_first_timestamp() {
        assert_eq!(Layout::of("2025-11-24T16:00:00.123000+00:00"), Layout::StreamThenMessage, "detailed");
        assert_eq!(Layout::of("2025-11-24T16:00:00+00:00"), Layout::StreamThenMessage, "json, whole second");
        assert_eq!(Layout::of("2025-11-24T16:00:00"), Layout::Message, "short");
        assert_eq!(Layout::of("2025-11-24T16:00:00.000Z"), Layout::Message, "export task");
        assert_eq!(Layout::of("2023-10-27T14:40:57.744+01:00"), Layout::Message, "console copy, local time");
    }

    #[test]
    fn lines_split_into_timestamp_and_message() {
        let (t, text, rest) = split("2025-11-24T16:00:00.123000+00:00 abc123 {\"status\":\"403\"}").unwrap();
        assert_eq!((t, text), (1_764_000_000_123, "2025-11-24T16:00:00.123000+00:00"));
        assert_eq!(message(rest, Layout::StreamThenMessage), "{\"status\":\"403\"}");
        let (_, _, rest) = split("2025-11-24T16:00:00+00:00 abc123 ").unwrap();
        assert_eq!(message(rest, Layout::StreamThenMessage), "", "json: the message follows");
        let (_, _, rest) = split("2023-10-27T14:40:57.744+01:00").unwrap();
        assert_eq!(message(rest, Layout::Message), "", "a timestamp alone");
        assert!(split("    \"status\": \"403\",").is_none());
    }

    #[test]
    fn colours_and_interrupts_are_noise() {
        let mut scratch = String::new();
        let colored = "\x1b[32m2025-11-24T16:00:00.123000+00:00\x1b[0m \x1b[36mabc123\x1b[0m GET 403";
        assert_eq!(without_colors(colored, &mut scratch), "2025-11-24T16:00:00.123000+00:00 abc123 GET 403");
        let mut scratch = String::new();
        assert_eq!(without_colors("plain", &mut scratch), "plain");
        assert!(is_noise("^C") && is_noise(" ^C\r") && !is_noise("^C and more"));
    }
}
