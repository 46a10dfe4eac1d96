//! Numbers as people read them: `4,680`, `31.2%`. The finding, the Consumers line, the CLI report
//! and `history` all write numbers through here, so they read alike everywhere.

/// `4680` → `4,680`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

/// `part` of `whole` in tenths of a percent, rounded half up: `312` for 31.2% (0 of 0 is 0).
pub fn permille(part: u64, whole: u64) -> u64 {
    if whole == 0 {
        return 0;
    }
    let w = u128::from(whole);
    ((u128::from(part) * 1000 + w / 2) / w) as u64
}

/// `part` of `whole` as `31.2%`.
pub fn percent_text(part: u64, whole: u64) -> String {
    let p = permille(part, whole);
    format!("{}.{}%", p / 10, p % 10)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_as_in_the_reference_example() {
        assert_eq!(
            (thousands(4680), thousands(15000), thousands(585)),
            ("4,680".into(), "15,000".into(), "585".into())
        );
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(percent_text(4680, 15000), "31.2%");
        assert_eq!(percent_text(1, 0), "0.0%");
        assert_eq!(permille(1, 2000), 1, "half a permille rounds up");
    }
}
