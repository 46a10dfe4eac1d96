//! A name or a name prefix, as users write them in configuration: `orders-api` matches that name
//! only, `/aws/apigateway/*` every name that starts with `/aws/apigateway/`. One rule for every
//! setting that takes names (`GROUP_RULES`, `LOG_GROUP_NAMES`, `STAGE_FILTER`).

/// A name (exact) or a prefix (written with a single trailing `*`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NamePattern {
    /// The name, or the prefix without its `*`.
    pub text: String,
    /// True for a prefix.
    pub prefix: bool,
}

impl NamePattern {
    /// Reads `s`: a non-empty name without `*`, or a prefix ending in a single `*` (`*` alone
    /// matches every name). `None` for anything else.
    pub fn parse(s: &str) -> Option<NamePattern> {
        match s.strip_suffix('*') {
            Some(p) if !p.contains('*') => Some(NamePattern { text: p.to_string(), prefix: true }),
            None if !s.is_empty() && !s.contains('*') => Some(NamePattern { text: s.to_string(), prefix: false }),
            _ => None,
        }
    }

    /// True when `name` is this name, or starts with this prefix.
    pub fn matches(&self, name: &str) -> bool {
        if self.prefix {
            name.starts_with(&self.text)
        } else {
            name == self.text
        }
    }
}

impl std::fmt::Display for NamePattern {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}{}", self.text, if self.prefix { "*" } else { "" })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_prefixes() {
        let p = NamePattern::parse("/aws/apigateway/*").unwrap();
        assert!(p.prefix && p.matches("/aws/apigateway/orders") && !p.matches("/aws/lambda/x"));
        let n = NamePattern::parse("orders").unwrap();
        assert!(!n.prefix && n.matches("orders") && !n.matches("orders-2"));
        assert!(NamePattern::parse("*").unwrap().matches("anything"));
        for bad in ["", "a*b", "**", "a**"] {
            assert_eq!(NamePattern::parse(bad), None, "{bad:?}");
        }
        assert_eq!(NamePattern::parse("x-*").unwrap().to_string(), "x-*");
    }
}
