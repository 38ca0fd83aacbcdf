//! Sizes and times as `routelet.toml` writes them (`"16MiB"`, `"30s"`), for every section.

use std::time::Duration;

use anyhow::bail;

/// `"16MiB"` → 16777216. Units are powers of 1024, as in Next.js's size strings.
pub fn parse_size(text: &str) -> anyhow::Result<u64> {
    let (number, unit) = number_and_unit(text, "a size", "16MiB")?;
    let scale: u64 = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kb" | "kib" => 1 << 10,
        "mb" | "mib" => 1 << 20,
        "gb" | "gib" => 1 << 30,
        other => bail!("unknown size unit {other:?}: use B, KiB, MiB or GiB"),
    };
    number
        .checked_mul(scale)
        .ok_or_else(|| anyhow::anyhow!("the size is too large"))
}

/// `"1500ms"`, `"30s"`, `"2m"`.
pub fn parse_duration(text: &str) -> anyhow::Result<Duration> {
    let (number, unit) = number_and_unit(text, "a time", "30s")?;
    let duration = match unit {
        "ms" => Duration::from_millis(number),
        "s" => Duration::from_secs(number),
        "m" => Duration::from_secs(number.saturating_mul(60)),
        other => bail!("unknown time unit {other:?}: use ms, s or m"),
    };
    if duration.is_zero() {
        bail!("a time limit of zero would stop every request");
    }
    Ok(duration)
}

/// `"16 MiB"` → `(16, "MiB")`; `what` and `example` word the error.
fn number_and_unit<'a>(text: &'a str, what: &str, example: &str) -> anyhow::Result<(u64, &'a str)> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number = number
        .parse()
        .map_err(|_| anyhow::anyhow!("{what} is a whole number and a unit, like \"{example}\""))?;
    Ok((number, unit.trim()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_times_parse_with_their_units() {
        assert_eq!(parse_size("16MiB").unwrap(), 16 << 20);
        assert_eq!(parse_size("1mb").unwrap(), 1 << 20);
        assert_eq!(parse_size("512").unwrap(), 512);
        assert_eq!(parse_size("4 KB").unwrap(), 4096);
        assert!(parse_size("lots").is_err());
        assert!(
            parse_size("3PB")
                .unwrap_err()
                .to_string()
                .contains("\"pb\"")
        );
        assert_eq!(
            parse_duration("1500ms").unwrap(),
            Duration::from_millis(1500)
        );
        assert_eq!(parse_duration("2m").unwrap(), Duration::from_secs(120));
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("5h").is_err());
    }
}
