//! Seconds since boot from `/proc/uptime`: `system.uptime`.

use std::io;

use super::emit::{Context, Emitter};
use super::load::invalid;

/// The first field of `/proc/uptime`.
pub fn parse_uptime(text: &str) -> Option<f64> {
    text.split_ascii_whitespace().next()?.parse().ok()
}

/// Emits the uptime gauge.
pub fn collect(ctx: &Context, out: &mut Emitter<'_>) -> io::Result<()> {
    let text = ctx.read("uptime")?;
    out.gauge("system.uptime", &[], parse_uptime(&text).ok_or_else(|| invalid("uptime", &text))?);
    Ok(())
}

#[cfg(test)]
mod tests {
    /// Uptime is the first of the two numbers.
    #[test]
    fn parse_uptime_reads_the_first_field() {
        assert_eq!(super::parse_uptime("12345.67 45678.90\n"), Some(12345.67));
    }
}
