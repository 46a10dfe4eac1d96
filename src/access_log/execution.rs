//! REST execution logs (`API-Gateway-Execution-Logs_{restApiId}/{stage}`): a request writes many
//! lines and the last one, `Method completed with status: NNN`, is the request. A request refused by
//! a Lambda authorizer never gets there: its denial line stands in for it, with the status API
//! Gateway answers it with.
//!
//! Each message is read in every form it reaches us in:
//! - as CloudWatch holds it: `(<request id>) Method completed with status: 403`;
//! - the console's test invoke: `Tue Jun 23 05:56:11 UTC 2020 : Method completed with status: 403`;
//! - a bare message (an export with its timestamp and id stripped): `Method completed with status: 400`;
//! - any of these behind an ISO-8601 timestamp (detection strips it: see `super::detect`).

use super::{AccessRecord, Line};
use crate::base::status::parse_status;
use std::collections::{HashSet, VecDeque};

const COMPLETED: &str = "Method completed with status: ";

/// Authorizer denials, by the start of their message, and the status API Gateway answers them with.
const DENIALS: [(&str, u16); 3] = [
    // [checked, re:Post knowledge center "api-gateway-logs", Lambda authorizer section: an unauthorized
    // request logs `Starting authorizer: 62mgrc for request: <id>` then `Unauthorized request: <id>`;
    // the 401 from "api-gateway-401-error-lambda-authorizer" (UNAUTHORIZED, `{"message":"Unauthorized"}`)]
    ("Unauthorized request: ", 401),
    // [checked, re:Post knowledge center "api-gateway-403-error-lambda-authorizer": a Lambda authorizer
    // policy with an explicit deny answers 403 `User is not authorized to access this resource with an
    // explicit deny`, an implicit deny 403 `User is not authorized to access this resource`. That the
    // execution log carries the same sentence is [likely]: so is the next line's wording.]
    ("User is not authorized to access this resource", 403),
    // [likely, same article, execution-log walk-through of a Deny policy: after `Successfully completed
    // authorizer execution` comes `The client is not authorized to perform this operation.`; the same
    // sentence is the `$context.authorize.error` of a 403 in a secondary source (techdevlabs.pages.dev,
    // "Troubleshoot Access Denied (403 Forbidden) Error in AWS API Gateway", 2026-02-02)]
    ("The client is not authorized to perform this operation", 403),
];

/// A resource policy's refusal, `User: anonymous is not authorized to perform: execute-api:Invoke on
/// resource: <arn>[ with an explicit deny]` → 403 [checked as the response message, same article].
const RESOURCE_POLICY_DENIAL: &str = " is not authorized to perform: execute-api:Invoke";

/// Messages API Gateway writes to execution logs before the final line: recognised without their
/// `(<request id>)` prefix, so that a bare export is not reported as unparsed.
const STEPS: [&str; 32] = [
    "Extended Request Id: ",
    "Verifying Usage Plan for request: ",
    "API Key",
    "Usage Plan check succeeded",
    "Starting execution for request: ",
    "HTTP Method: ",
    "Method request ",
    "Endpoint request ",
    "Endpoint response ",
    "Method response ",
    "Sending request to ",
    "Received response. ",
    "Successfully completed execution",
    "Execution failed due to ",
    "Lambda execution failed ",
    "AWS Integration Endpoint RequestId",
    "X-ray Tracing ID",
    "Starting authorizer: ",
    "Incoming identity: ",
    "Authorizer result body before parsing: ",
    "Using valid authorizer policy for principal: ",
    "Successfully completed authorizer execution",
    "Authorizer request ",
    "Authorizer response ",
    "AuthorizerConfigurationException",
    "Execution log for request ",
    "Gateway response ",
    "Key throttle limit exceeded ",
    "Method request body before transformations",
    "Request validation failed",
    "Request body does not match model schema",
    "Integration latency: ",
];

/// The request id of an execution line: `(<id>) message` → `(Some(id), message)`.
fn split_request_id(line: &str) -> Option<(&str, &str)> {
    let rest = line.strip_prefix('(')?;
    let close = rest.find(") ")?;
    Some((&rest[..close], &rest[close + 2..]))
}

/// `(<request id>) message`: an execution line for sure; `None` when the line has no `) ` after its id.
pub(super) fn parse_prefixed(line: &str) -> Option<Line<'_>> {
    let (id, message) = split_request_id(line)?;
    Some(message_line(Some(id), message).unwrap_or(Line::NotARequest))
}

/// The console's test-invoke output: `Tue Jun 23 05:56:11 UTC 2020 : message` (the date's shape
/// checked loosely: weekday, month, and ` : ` within the first 32 bytes).
pub(super) fn parse_test_invoke(line: &str) -> Option<Line<'_>> {
    let b = line.as_bytes();
    let looks_like_date = b.len() > 8
        && b[..3].iter().all(u8::is_ascii_alphabetic)
        && b[3] == b' '
        && b[4..7].iter().all(u8::is_ascii_alphabetic)
        && b[7] == b' ';
    if !looks_like_date {
        return None;
    }
    let sep = line.get(..32.min(line.len()))?.find(" : ")?;
    let message = &line[sep + 3..];
    let (id, message) = split_request_id(message).map_or((None, message), |(id, m)| (Some(id), m));
    // The date (`Tue Jun 23 05:56:11 UTC 2020`) places the request in windows.
    Some(match message_line(id, message) {
        Some(Line::Request(r)) => Line::Request(AccessRecord { request_time: Some(&line[..sep]), ..r }),
        other => other.unwrap_or(Line::NotARequest),
    })
}

/// A bare execution message (no id, no timestamp): `None` when it is not one API Gateway writes.
pub(super) fn parse_bare(line: &str) -> Option<Line<'_>> {
    message_line(None, line).or_else(|| STEPS.iter().any(|s| line.starts_with(s)).then_some(Line::NotARequest))
}

/// The final line or a denial, as a request; `None` for any other message.
fn message_line<'a>(id: Option<&'a str>, message: &'a str) -> Option<Line<'a>> {
    let record = |status, denial| {
        let execution = id.map(|request_id| ExecutionStep { request_id, denial });
        Line::Request(AccessRecord { status, execution, ..AccessRecord::default() })
    };
    if let Some(rest) = message.strip_prefix(COMPLETED) {
        return Some(parse_status(rest.get(..3).unwrap_or(rest)).map_or(Line::Unparsed, |s| record(s, false)));
    }
    if let Some((_, status)) = DENIALS.iter().find(|(m, _)| message.starts_with(m)) {
        return Some(record(*status, true));
    }
    if message.starts_with("User: ") && message.contains(RESOURCE_POLICY_DENIAL) {
        return Some(record(403, true));
    }
    None
}

/// Which request an execution-log line that counts belongs to, and how it counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExecutionStep<'a> {
    /// The `(<request id>)` the line starts with.
    pub request_id: &'a str,
    /// An authorizer denial, rather than the request's final `Method completed` line.
    pub denial: bool,
}

/// Denials waiting for their request's `Method completed` line, which must not count it again.
/// A denied request normally logs none [likely: the knowledge-center walk-throughs end at the
/// denial], so this only guards against both appearing, or a denial logged twice. Bounded: the oldest
/// is forgotten first (a request's lines arrive within moments of each other).
#[derive(Debug, Clone, Default)]
pub struct PendingDenials {
    order: VecDeque<Box<str>>,
    ids: HashSet<Box<str>>,
}

/// Denials remembered at most.
const MAX_PENDING_DENIALS: usize = 4096;

impl PendingDenials {
    /// True when `record` is a request not counted yet; false for the second line of a request.
    pub fn admit(&mut self, record: &AccessRecord<'_>) -> bool {
        let Some(step) = record.execution else { return true };
        if self.ids.is_empty() && !step.denial {
            return true;
        }
        if self.ids.contains(step.request_id) {
            if !step.denial {
                self.ids.remove(step.request_id);
            }
            return false;
        }
        if step.denial {
            if self.order.len() >= MAX_PENDING_DENIALS {
                if let Some(old) = self.order.pop_front() {
                    self.ids.remove(&old);
                }
            }
            self.order.push_back(step.request_id.into());
            self.ids.insert(step.request_id.into());
        }
        true
    }
}
