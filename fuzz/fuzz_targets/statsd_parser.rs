//! A datagram of arbitrary bytes through the StatsD/DogStatsD parser.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| sluice::fuzz::statsd_datagram(data));
