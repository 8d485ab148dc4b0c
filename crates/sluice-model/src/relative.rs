//! Relative dates as `sluice test` fixtures (and seed files) write them: `@now`, `@now+1d`,
//! `@now-2h30m` — the offset after `@now`, read here so every reader agrees.

/// The offset after `@now` in seconds: empty, or a sign and parts like `1d`, `2h30m`, `45s`
/// (`-1d` is a day ago). `None` when it is not one, or it is too large.
#[must_use]
pub fn parse_offset_secs(rest: &str) -> Option<i64> {
    if rest.is_empty() {
        return Some(0);
    }
    let (sign, mut body) = match rest.as_bytes().first()? {
        b'+' => (1i64, &rest[1..]),
        b'-' => (-1i64, &rest[1..]),
        _ => return None,
    };
    if body.is_empty() {
        return None;
    }
    let mut secs: i64 = 0;
    while !body.is_empty() {
        let digits = body.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 || digits > 9 {
            return None;
        }
        let n: i64 = body[..digits].parse().ok()?;
        let unit = match body.as_bytes().get(digits)? {
            b'd' => 86_400,
            b'h' => 3_600,
            b'm' => 60,
            b's' => 1,
            _ => return None,
        };
        secs = secs.checked_add(n.checked_mul(unit)?)?;
        body = &body[digits + 1..];
    }
    Some(sign * secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_read_as_the_docs_say() {
        assert_eq!(parse_offset_secs(""), Some(0));
        assert_eq!(parse_offset_secs("+1d"), Some(86_400));
        assert_eq!(parse_offset_secs("-2h30m"), Some(-9_000));
        assert_eq!(parse_offset_secs("+45s"), Some(45));
        for bad in ["1d", "+", "+1", "+1x", "+d", "+1234567890s"] {
            assert_eq!(parse_offset_secs(bad), None, "{bad}");
        }
    }
}
