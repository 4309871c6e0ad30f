use std::net::UdpSocket;
use std::os::fd::AsRawFd;

use socket2::{Domain, Protocol, Socket, Type};

use super::*;

const PROC_NET_UDP: &str = "   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  \
                            timeout inode ref pointer drops
  412: 0100007F:1FBD 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 93061 2 ffff8cf5c6a1e000 0
  519: 0100007F:A028 00000000:0000 07 00000000:00001200 00:00000000 00000000     0        0 93077 2 ffff8cf5c6a1e400 1729
";

/// The drops column is read from the row whose inode matches, and only from it.
#[test]
fn parse_udp_drops_reads_the_row_of_the_inode() {
    assert_eq!(parse_udp_drops(PROC_NET_UDP, 93077), Some(1729));
    assert_eq!(parse_udp_drops(PROC_NET_UDP, 93061), Some(0));
    assert_eq!(parse_udp_drops(PROC_NET_UDP, 4242), None);
}

/// The kernel reports twice the usable size; a request is short only against half of it.
#[test]
fn receive_buffer_shortfall_compares_against_half_the_reported_size() {
    // Request met: Linux reports 2 × 262 144.
    assert_eq!(receive_buffer_shortfall(262_144, 524_288), None);
    // Capped at rmem_max = 212 992: reported 425 984, granted 212 992.
    assert_eq!(receive_buffer_shortfall(1 << 30, 425_984), Some(212_992));
    // The doubled figure alone would look like a met request; it must not.
    assert_eq!(receive_buffer_shortfall(300_000, 425_984), Some(212_992));
}

/// Warnings about a recurring condition fire at the 1st, 2nd, 4th, 8th… occurrence.
#[test]
fn warn_due_fires_at_powers_of_two() {
    let due: Vec<u64> = (1..=20).filter(|&n| warn_due(n)).collect();
    assert_eq!(due, [1, 2, 4, 8, 16]);
}

/// A flooded socket with a tiny buffer shows drops in /proc/net/udp, and every datagram
/// sent was either queued or counted there.
#[test]
fn udp_drops_counts_what_a_full_receive_buffer_refused() {
    let receiver = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP)).unwrap();
    receiver.set_recv_buffer_size(1).unwrap(); // The kernel rounds it up to its minimum.
    receiver.bind(&"127.0.0.1:0".parse::<std::net::SocketAddr>().unwrap().into()).unwrap();
    let receiver: UdpSocket = receiver.into();
    let addr = receiver.local_addr().unwrap();
    let inode = socket_inode(receiver.as_raw_fd()).unwrap();
    assert_eq!(udp_drops(inode), Some(0));

    let sender = UdpSocket::bind("127.0.0.1:0").unwrap();
    let payload = [b'x'; 1000];
    for _ in 0..500 {
        sender.send_to(&payload, addr).unwrap();
    }
    let first = udp_drops(inode).unwrap();
    assert!(first > 0, "no drops after flooding a tiny buffer");

    for _ in 0..500 {
        sender.send_to(&payload, addr).unwrap();
    }
    let second = udp_drops(inode).unwrap();
    assert!(second > first, "drops did not grow: {first} then {second}");

    receiver.set_nonblocking(true).unwrap();
    let mut queued = 0;
    let mut buf = [0u8; 2000];
    while receiver.recv(&mut buf).is_ok() {
        queued += 1;
    }
    assert_eq!(queued + second, 1000);
    assert_eq!(udp_drops(inode), Some(second));
}
