//! Validates the session cache settings: on or off, the staleness bound,
//! the size in bytes and the outage grace. Each error names its setting.

use std::time::Duration;

use super::settings::Raw;
use super::{CacheOptions, ConfigError, parse};

/// The cache settings, checked.
pub(super) fn options(raw: &Raw) -> Result<CacheOptions, ConfigError> {
    let enabled = raw.session_cache.parse(|text| switch(text))?;
    let staleness = &raw.session_cache_max_staleness;
    let max_staleness = staleness.duration()?;
    if !(Duration::from_millis(100)..=Duration::from_secs(10)).contains(&max_staleness) {
        return Err(staleness.error("must be between 100ms and 10s"));
    }
    let size_bytes = raw.session_cache_size.parse(|text| bytes(text))?;
    let grace = &raw.redis_outage_grace;
    let outage_grace = grace
        .parse(|value| value.as_deref().map(parse::duration).transpose())?
        .filter(|d| !d.is_zero());
    if outage_grace.is_some_and(|d| d < Duration::from_secs(1) || d > Duration::from_secs(600)) {
        return Err(grace.error("must be between 1s and 10m (or 0 for off)"));
    }
    Ok(CacheOptions {
        enabled,
        max_staleness,
        size_bytes,
        outage_grace,
    })
}

/// `on`/`off` (also `true`/`false`).
fn switch(text: &str) -> Result<bool, String> {
    match text.trim().to_ascii_lowercase().as_str() {
        "on" | "true" => Ok(true),
        "off" | "false" => Ok(false),
        _ => Err(format!("`{text}` is not `on` or `off`")),
    }
}

/// A size: bytes, or with `KiB`, `MiB`, `GiB` (or `k`, `M`, `G`, taken as
/// powers of 1024), from 64 KiB to 64 GiB.
fn bytes(text: &str) -> Result<u64, String> {
    let trimmed = text.trim();
    let split = trimmed
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(trimmed.len());
    let (number, unit) = trimmed.split_at(split);
    let shift = match unit.trim() {
        "" | "B" => 0,
        "k" | "K" | "KiB" | "KB" => 10,
        "M" | "Mi" | "MiB" | "MB" => 20,
        "G" | "Gi" | "GiB" | "GB" => 30,
        _ => return Err(format!("`{text}` is not a size such as `16MiB`")),
    };
    let size = number
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_shl(shift).filter(|s| s >> shift == n))
        .ok_or_else(|| format!("`{text}` is not a size such as `16MiB`"))?;
    if !(64 << 10..=64 << 30).contains(&size) {
        return Err(format!("`{text}` must be between 64KiB and 64GiB"));
    }
    Ok(size)
}

#[cfg(test)]
mod tests {
    use super::{bytes, switch};

    #[test]
    fn sizes_take_binary_units_and_refuse_garbage() {
        assert_eq!(bytes("16MiB"), Ok(16 << 20));
        assert_eq!(bytes("65536"), Ok(65536));
        assert_eq!(bytes("2G"), Ok(2 << 30));
        assert!(bytes("1k").is_err());
        assert!(bytes("16 parsecs").is_err());
        assert!(bytes("").is_err());
        assert!(bytes("99999999999999999999G").is_err());
        assert_eq!(switch("OFF"), Ok(false));
        assert!(switch("maybe").is_err());
    }
}
