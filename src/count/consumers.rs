//! Who is behind the 4xx: per 4xx line, the most specific caller identity the line carries (API key
//! id, then authorizer principal, then IAM caller, then user, then source IP), counted under the
//! same bound as routes, and the alert line
//! `Consumers: api key k1 90 of 100 4xx (90.0%), ip 203.0.113.9 6 of 100 4xx (6.0%)`.
//!
//! API key values (`$context.identity.apiKey`) are secrets: they are never read as identities, and
//! lines shown back to the user (the unparsed example) have them redacted.

use crate::access_log::Origin;
use crate::base::numbers::{percent_text, thousands};

use crate::count::values::{shown, Markup, ValueCounts};

/// Consumers listed in the alert line.
pub const CONSUMERS_TOP: usize = 3;

/// The kind of identity a consumer is known by, most specific first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ConsumerKind {
    /// `$context.identity.apiKeyId`.
    ApiKey,
    /// `$context.authorizer.principalId`.
    Principal,
    /// `$context.identity.caller` (IAM).
    Caller,
    /// `$context.identity.user` (IAM).
    User,
    /// `$context.identity.sourceIp`.
    SourceIp,
}

const KINDS: [ConsumerKind; 5] =
    [ConsumerKind::ApiKey, ConsumerKind::Principal, ConsumerKind::Caller, ConsumerKind::User, ConsumerKind::SourceIp];

impl ConsumerKind {
    /// `api key`, `principal`, `caller`, `user`, `ip`: how the alert names it.
    pub fn label(self) -> &'static str {
        match self {
            ConsumerKind::ApiKey => "api key",
            ConsumerKind::Principal => "principal",
            ConsumerKind::Caller => "caller",
            ConsumerKind::User => "user",
            ConsumerKind::SourceIp => "ip",
        }
    }

    /// `api_key`, `principal`, `caller`, `user`, `ip`: the JSON form.
    pub fn key(self) -> &'static str {
        match self {
            ConsumerKind::ApiKey => "api_key",
            other => other.label(),
        }
    }
}

/// One consumer and its 4xx.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Consumer<'a> {
    /// What the identity is.
    pub kind: ConsumerKind,
    /// The identity.
    pub value: &'a str,
    /// Its 4xx.
    pub count: u64,
}

/// The 4xx of one status (or a finding's) by consumer. Additive; each kind bounded like routes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Consumers {
    by_kind: [ValueCounts; 5],
    /// 4xx by `$context.identity.userAgent` (not an identity: many consumers share one).
    pub user_agents: ValueCounts,
    /// Every 4xx line counted here, with an identity or not: the shares' denominator.
    pub client_errors: u64,
}

impl Consumers {
    /// Counts one 4xx line.
    pub fn add(&mut self, o: &Origin<'_>) {
        self.client_errors += 1;
        self.add_identity(o, 1);
    }

    /// Counts the identity and user agent of `n` 4xx lines that share `o`, leaving
    /// [`Self::client_errors`] to the caller (a Logs Insights row counts lines by identity, another
    /// query counts every 4xx line).
    pub fn add_identity(&mut self, o: &Origin<'_>, n: u64) {
        let identities = [o.api_key_id, o.principal, o.caller, o.user, o.source_ip];
        if let Some((i, Some(value))) = identities.into_iter().enumerate().find(|(_, v)| v.is_some()) {
            self.by_kind[i].add(value, n);
        }
        if let Some(ua) = o.user_agent {
            self.user_agents.add(ua, n);
        }
    }

    /// Adds another set.
    pub fn merge(&mut self, other: &Consumers) {
        for (a, b) in self.by_kind.iter_mut().zip(&other.by_kind) {
            a.merge(b);
        }
        self.user_agents.merge(&other.user_agents);
        self.client_errors += other.client_errors;
    }

    /// The `k` consumers with most 4xx, across kinds (ties: the more specific kind, then the value).
    pub fn top(&self, k: usize) -> Vec<Consumer<'_>> {
        let mut all: Vec<Consumer<'_>> = KINDS
            .iter()
            .zip(&self.by_kind)
            .flat_map(|(kind, counts)| {
                counts.top(k).into_iter().map(|(value, count)| Consumer { kind: *kind, value, count })
            })
            .collect();
        all.sort_by(|a, b| b.count.cmp(&a.count).then(a.kind.cmp(&b.kind)).then(a.value.cmp(b.value)));
        all.truncate(k);
        all
    }

    /// The consumer behind more than half of the 4xx, if one is.
    pub fn dominant(&self) -> Option<Consumer<'_>> {
        self.top(1)
            .into_iter()
            .find(|c| c.count * 2 > self.client_errors && c.value != crate::count::values::OTHER_VALUES)
    }

    /// `Consumers: api key k1 90 of 100 4xx (90.0%), …`, when any 4xx line carried an identity; each
    /// identity written by [`shown`].
    pub fn line(&self, markup: Markup) -> Option<String> {
        let top = self.top(CONSUMERS_TOP);
        if top.is_empty() {
            return None;
        }
        let of = thousands(self.client_errors);
        let items: Vec<String> = top
            .iter()
            .map(|c| {
                let share = percent_text(c.count, self.client_errors);
                format!("{} {} {} of {of} 4xx ({share})", c.kind.label(), shown(c.value, markup), thousands(c.count))
            })
            .collect();
        Some(format!("Consumers: {}.", items.join(", ")))
    }

    /// True when no line carried an identity or user agent.
    pub fn is_empty(&self) -> bool {
        self.by_kind.iter().all(ValueCounts::is_empty) && self.user_agents.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(k: &str) -> Origin<'_> {
        Origin { api_key_id: Some(k), source_ip: Some("198.51.100.1"), ..Origin::default() }
    }

    #[test]
    fn one_key_behind_ninety_of_a_hundred() {
        let mut c = Consumers::default();
        for _ in 0..90 {
            c.add(&key("k1"));
        }
        for i in 0..6 {
            c.add(&Origin { source_ip: Some(["203.0.113.9", "203.0.113.10"][i % 2]), ..Origin::default() });
        }
        for _ in 0..4 {
            c.add(&Origin::default());
        }
        assert_eq!(c.client_errors, 100);
        assert_eq!(
            c.line(Markup::Text).unwrap(),
            "Consumers: api key k1 90 of 100 4xx (90.0%), ip 203.0.113.10 3 of 100 4xx (3.0%), ip 203.0.113.9 3 of 100 4xx (3.0%)."
        );
        assert_eq!(c.dominant().map(|d| (d.kind, d.value)), Some((ConsumerKind::ApiKey, "k1")));
    }

    #[test]
    fn most_specific_identity_names_the_consumer() {
        let mut c = Consumers::default();
        c.add(&Origin {
            principal: Some("alice"),
            caller: Some("AROA"),
            source_ip: Some("1.2.3.4"),
            ..Origin::default()
        });
        c.add(&Origin { user: Some("u"), source_ip: Some("1.2.3.4"), user_agent: Some("curl"), ..Origin::default() });
        let top = c.top(5);
        assert_eq!(
            top.iter().map(|t| (t.kind, t.value)).collect::<Vec<_>>(),
            [(ConsumerKind::Principal, "alice"), (ConsumerKind::User, "u")]
        );
        assert_eq!(c.user_agents.get("curl"), 1);
        assert_eq!(c.dominant(), None, "1 of 2 is not most");
        let mut m = c.clone();
        m.merge(&c);
        assert_eq!((m.client_errors, m.top(1)[0].count), (4, 2));
    }

    #[test]
    fn no_identity_no_line() {
        let mut c = Consumers::default();
        c.add(&Origin::default());
        assert_eq!(c.line(Markup::Text), None);
        assert!(c.is_empty());
    }
}
