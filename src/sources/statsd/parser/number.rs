//! Numbers on the wire: metric values (a fast float parser with an exact fallback) and
//! Unix seconds.

use std::str;

use super::error::ParseError;

/// A non-negative integer of at most 18 digits (so it fits `i64`), as Unix seconds.
pub(super) fn parse_unix_seconds(raw: &[u8]) -> Option<i64> {
    if raw.is_empty() || raw.len() > 18 || !raw.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(raw.iter().fold(0_i64, |acc, &d| acc * 10 + i64::from(d - b'0')))
}

pub(super) fn is_signed(raw: &[u8]) -> bool {
    matches!(raw.first(), Some(b'+' | b'-'))
}

/// Exact powers of ten: every one up to 10²² is representable in `f64`.
const POW10: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20,
    1e21, 1e22,
];

/// Parses a finite number exactly as `str::parse::<f64>` does.
///
/// Fast path (Clinger): a plain decimal `[+-]digits[.digits]` with at most 15 significant
/// digits is `mantissa / 10^k` with both operands exact in `f64`, so the one correctly rounded
/// division gives the correctly rounded result, the same bits `str::parse` returns. Anything
/// else (exponents, long mantissas, `inf`, `nan`) goes to `str::parse`.
pub(super) fn parse_number(raw: &[u8]) -> Result<f64, ParseError> {
    let (negative, digits) = match raw.first() {
        Some(b'-') => (true, &raw[1..]),
        Some(b'+') => (false, &raw[1..]),
        _ => (false, raw),
    };
    if digits.len() <= 16 {
        let mut mantissa: u64 = 0;
        let mut count = 0;
        let mut fraction: Option<usize> = None;
        let mut plain = true;
        for &b in digits {
            match b {
                b'0'..=b'9' => {
                    mantissa = mantissa * 10 + u64::from(b - b'0');
                    count += 1;
                    if let Some(f) = fraction.as_mut() {
                        *f += 1;
                    }
                }
                b'.' if fraction.is_none() => fraction = Some(0),
                _ => {
                    plain = false;
                    break;
                }
            }
        }
        if plain && count > 0 && count <= 15 {
            let value = mantissa as f64 / POW10[fraction.unwrap_or(0)];
            return Ok(if negative { -value } else { value });
        }
    }
    let text = str::from_utf8(raw).map_err(|_| ParseError::BadValue)?;
    let value: f64 = text.parse().map_err(|_| ParseError::BadValue)?;
    if value.is_finite() { Ok(value) } else { Err(ParseError::NonFiniteValue) }
}

pub(super) fn parse_signed_seconds(raw: &[u8]) -> Option<i64> {
    match raw {
        [b'-', digits @ ..] => parse_unix_seconds(digits).map(|v| -v),
        _ => parse_unix_seconds(raw),
    }
}
