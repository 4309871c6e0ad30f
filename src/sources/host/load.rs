//! Load averages from `/proc/loadavg`: `system.load.1`, `system.load.5`, `system.load.15`.

use std::io;

use super::emit::{Context, Emitter};

/// The 1, 5 and 15 minute load averages.
pub fn parse_loadavg(text: &str) -> Option<[f64; 3]> {
    let mut fields = text.split_ascii_whitespace().map(str::parse::<f64>);
    Some([fields.next()?.ok()?, fields.next()?.ok()?, fields.next()?.ok()?])
}

/// Emits the three load averages.
pub fn collect(ctx: &Context, out: &mut Emitter<'_>) -> io::Result<()> {
    let text = ctx.read("loadavg")?;
    let [one, five, fifteen] = parse_loadavg(&text).ok_or_else(|| invalid("loadavg", &text))?;
    out.gauge("system.load.1", &[], one);
    out.gauge("system.load.5", &[], five);
    out.gauge("system.load.15", &[], fifteen);
    Ok(())
}

/// The error for a `/proc` file that does not read as expected.
pub fn invalid(file: &str, text: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("unexpected /proc/{file}: {:?}", text.trim()))
}

#[cfg(test)]
mod tests {
    /// The first three fields are the averages.
    #[test]
    fn parse_loadavg_reads_three_averages() {
        assert_eq!(super::parse_loadavg("0.52 1.25 2.00 3/456 7890\n"), Some([0.52, 1.25, 2.0]));
        assert_eq!(super::parse_loadavg("0.52\n"), None);
    }
}
