//! The console's non-JSON formats: CLF, CSV, XML.

use super::{record, AccessRecord, RawFields};

/// CLF, current (`…]"GET /p HTTP/1.1" 403 …`) and older (`…] "GET /p HTTP/1.1" 403 …`): the status
/// is the first token after the quoted request line.
pub(super) fn parse_clf(line: &str) -> Option<AccessRecord<'_>> {
    let open = line.find('"')?;
    let close = open + 1 + line[open + 1..].find('"')?;
    let mut request = line[open + 1..close].split_ascii_whitespace();
    let method = request.next();
    // HTTP APIs' CLF logs `$context.routeKey` where REST logs the path: `"GET GET /pets/{id} HTTP/1.1"`
    // (the route key's own method, then its route) or `"GET $default HTTP/1.1"`.
    let route = match request.next() {
        Some(m) if METHODS.contains(&m) => request.next().filter(|r| !r.starts_with("HTTP/")),
        r => r,
    };
    let status = line[close + 1..].split_ascii_whitespace().next();
    let request_time = line[..open].split_once('[').and_then(|(_, t)| t.split_once(']')).map(|(t, _)| t);
    // `sourceIp caller user [time]`: the console's order.
    let mut who = line[..open].split_once('[').map_or("", |(w, _)| w).split_ascii_whitespace();
    let origin = super::Origin { source_ip: who.next(), caller: who.next(), user: who.next(), ..Default::default() };
    record(RawFields { status, method, route, request_time, origin, ..RawFields::default() })
}

/// The methods a request line or a CSV field may name (also how the Logs Insights evidence query
/// tells a route key's method from a path).
pub(crate) const METHODS: [&str; 8] = ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "ANY"];

/// The console's CSV: `ip,caller,user,time,method,resourcePath,protocol,status,length,requestId`. The
/// status follows the protocol field; without one, the console's column order is assumed.
pub(super) fn parse_csv(line: &str) -> Option<AccessRecord<'_>> {
    let fields: [&str; 16] = {
        let mut a = [""; 16];
        let mut n = 0;
        for (slot, f) in a.iter_mut().zip(line.split(',')) {
            *slot = f.trim();
            n += 1;
        }
        if n < 8 {
            return None;
        }
        a
    };
    let status_at = fields.iter().position(|f| f.starts_with("HTTP/")).map_or(7, |p| p + 1);
    let method = fields.iter().find(|f| METHODS.contains(f)).copied();
    let route = fields.iter().find(|f| f.starts_with('/')).copied();
    // HTTP APIs: `$context.routeKey` (`GET /pets/{id}`, `$default`) where REST logs the path.
    let route_key = fields
        .iter()
        .find(|f| {
            *f == &"$default" || f.split_once(' ').is_some_and(|(m, r)| METHODS.contains(&m) && r.starts_with('/'))
        })
        .copied();
    let request_time = fields.iter().find(|f| crate::base::time::parse_request_time(f).is_some()).copied();
    let status = fields.get(status_at).copied();
    record(RawFields { status, method, route, route_key, request_time, ..RawFields::default() })
}

/// The console's XML: `<request id="…"> … <status>403</status> … </request>`.
pub(super) fn parse_xml(line: &str) -> Option<AccessRecord<'_>> {
    let element = |open: &str| {
        let start = memchr::memmem::find(line.as_bytes(), open.as_bytes())? + open.len();
        let len = memchr::memchr(b'<', &line.as_bytes()[start..])?;
        line.get(start..start + len)
    };
    record(RawFields {
        status: element("<status>"),
        method: element("<httpMethod>"),
        route: element("<resourcePath>"),
        route_key: element("<routeKey>"),
        response_type: element("<responseType>"),
        request_time: element("<requestTime>"),
        origin: super::Origin {
            source_ip: element("<ip>"),
            caller: element("<caller>"),
            user: element("<user>"),
            ..Default::default()
        },
    })
}
