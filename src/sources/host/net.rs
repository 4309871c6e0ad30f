//! Network traffic per interface from `/proc/net/dev` (sluice's network namespace), as
//! counters tagged `interface` and `direction:rx|tx`: `system.net.bytes`,
//! `system.net.packets`, `system.net.errors`, `system.net.drops`.

use std::io;

use super::emit::{Context, Emitter};

/// One interface's counters, each as `[rx, tx]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetDev {
    /// The interface name.
    pub interface: String,
    /// Bytes.
    pub bytes: [u64; 2],
    /// Packets.
    pub packets: [u64; 2],
    /// Errors.
    pub errors: [u64; 2],
    /// Packets dropped.
    pub drops: [u64; 2],
}

/// Every interface of `/proc/net/dev` (after its two header lines).
pub fn parse_net_dev(text: &str) -> Vec<NetDev> {
    text.lines()
        .filter_map(|line| {
            let (name, rest) = line.split_once(':')?;
            let f: Vec<u64> = rest.split_ascii_whitespace().map(str::parse).collect::<Result<_, _>>().ok()?;
            if f.len() < 16 {
                return None;
            }
            Some(NetDev {
                interface: name.trim().to_owned(),
                bytes: [f[0], f[8]],
                packets: [f[1], f[9]],
                errors: [f[2], f[10]],
                drops: [f[3], f[11]],
            })
        })
        .collect()
}

/// Emits the counters of every interface.
pub fn collect(ctx: &Context, out: &mut Emitter<'_>) -> io::Result<()> {
    for dev in parse_net_dev(&ctx.read("net/dev")?) {
        for (i, direction) in ["rx", "tx"].into_iter().enumerate() {
            let tags = [("interface", dev.interface.as_str()), ("direction", direction)];
            out.counter("system.net.bytes", &tags, dev.bytes[i] as f64);
            out.counter("system.net.packets", &tags, dev.packets[i] as f64);
            out.counter("system.net.errors", &tags, dev.errors[i] as f64);
            out.counter("system.net.drops", &tags, dev.drops[i] as f64);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    /// Receive and transmit columns are told apart; header lines are skipped.
    #[test]
    fn parse_net_dev_reads_rx_and_tx() {
        let text = "Inter-|   Receive                                                |  Transmit\n \
                    face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n\
                    \x20   lo: 1000 10 0 0 0 0 0 0 1000 10 0 0 0 0 0 0\n\
                    \x20 eth0: 5000 50 1 2 0 0 0 0 7000 70 3 4 0 0 0 0\n";
        let devs = super::parse_net_dev(text);
        assert_eq!(devs.len(), 2);
        assert_eq!(
            devs[1],
            super::NetDev {
                interface: "eth0".into(),
                bytes: [5000, 7000],
                packets: [50, 70],
                errors: [1, 3],
                drops: [2, 4]
            }
        );
    }
}
