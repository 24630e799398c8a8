//! Go duration strings ("1h30m", "500ms", "1.5s"), as Nomad job files write them.

/// Parses a Go duration string into nanoseconds.
pub fn parse_go_duration(s: &str) -> Result<i64, String> {
    let orig = s;
    let bad = || format!("invalid duration \"{orig}\"");
    let (neg, mut rest) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    if rest == "0" {
        return Ok(0);
    }
    if rest.is_empty() {
        return Err(bad());
    }
    let mut total: f64 = 0.0;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let (num, tail) = rest.split_at(num_len);
        if num.is_empty() || num == "." {
            return Err(bad());
        }
        let value: f64 = num.parse().map_err(|_| bad())?;
        let unit_len = tail
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(tail.len());
        let (unit, tail) = tail.split_at(unit_len);
        let scale: f64 = match unit {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            "" => return Err(format!("missing unit in duration \"{orig}\"")),
            other => return Err(format!("unknown unit \"{other}\" in duration \"{orig}\"")),
        };
        total += value * scale;
        rest = tail;
    }
    if total > i64::MAX as f64 {
        return Err(format!("duration \"{orig}\" is too long"));
    }
    let ns = total.round() as i64;
    Ok(if neg { -ns } else { ns })
}

#[cfg(test)]
mod tests {
    use super::parse_go_duration as p;

    #[test]
    fn go_durations() {
        assert_eq!(p("10s"), Ok(10_000_000_000));
        assert_eq!(p("1h30m"), Ok(5_400_000_000_000));
        assert_eq!(p("500ms"), Ok(500_000_000));
        assert_eq!(p("1.5s"), Ok(1_500_000_000));
        assert_eq!(p("0"), Ok(0));
        assert_eq!(p("-2m"), Ok(-120_000_000_000));
        assert_eq!(p("3µs"), Ok(3_000));
    }

    #[test]
    fn bad_durations_say_why() {
        assert!(p("10").unwrap_err().contains("missing unit"));
        assert!(p("5 days").is_err());
        assert!(p("10y").unwrap_err().contains("unknown unit \"y\""));
        assert!(p("").is_err());
        assert!(p("99999999999h").unwrap_err().contains("too long"));
    }
}
