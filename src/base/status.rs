//! HTTP status codes: validation and the standard reason phrases (RFC 9110, 429 from RFC 6585).

/// Parses a three-digit HTTP status in 100..=599; anything else (`-`, `abc`, `999`, `4031`) is `None`.
pub fn parse_status(text: &str) -> Option<u16> {
    let b = text.trim().as_bytes();
    if b.len() != 3 || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let code = u16::from(b[0] - b'0') * 100 + u16::from(b[1] - b'0') * 10 + u16::from(b[2] - b'0');
    (100..=599).contains(&code).then_some(code)
}

/// The status codes that count as client errors (4xx): the one statement of it (tallies, metrics
/// and the alert's Logs Insights query all read it).
pub const CLIENT_ERROR_CODES: std::ops::RangeInclusive<u16> = 400..=499;

/// True for 400..=499.
pub fn is_client_error(code: u16) -> bool {
    CLIENT_ERROR_CODES.contains(&code)
}

/// The standard reason phrase of a status code, or `""` for codes without one.
pub fn reason_phrase(code: u16) -> &'static str {
    match code {
        100 => "Continue",
        101 => "Switching Protocols",
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        203 => "Non-Authoritative Information",
        204 => "No Content",
        205 => "Reset Content",
        206 => "Partial Content",
        300 => "Multiple Choices",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        304 => "Not Modified",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        402 => "Payment Required",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        406 => "Not Acceptable",
        407 => "Proxy Authentication Required",
        408 => "Request Timeout",
        409 => "Conflict",
        410 => "Gone",
        411 => "Length Required",
        412 => "Precondition Failed",
        413 => "Content Too Large",
        414 => "URI Too Long",
        415 => "Unsupported Media Type",
        416 => "Range Not Satisfiable",
        417 => "Expectation Failed",
        421 => "Misdirected Request",
        422 => "Unprocessable Content",
        426 => "Upgrade Required",
        428 => "Precondition Required",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        505 => "HTTP Version Not Supported",
        _ => "",
    }
}

/// `403 Forbidden`, or just `418` for a code without a standard phrase.
pub fn status_label(code: u16) -> String {
    match reason_phrase(code) {
        "" => code.to_string(),
        phrase => format!("{code} {phrase}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_only_real_status_codes() {
        assert_eq!(parse_status("403"), Some(403));
        assert_eq!(parse_status(" 200 "), Some(200));
        for bad in ["-", "abc", "999", "099", "4031", "40", "", "4a3"] {
            assert_eq!(parse_status(bad), None, "{bad}");
        }
    }

    #[test]
    fn labels_use_standard_phrases() {
        assert_eq!(status_label(403), "403 Forbidden");
        assert_eq!(status_label(429), "429 Too Many Requests");
        assert_eq!(status_label(418), "418");
    }
}
