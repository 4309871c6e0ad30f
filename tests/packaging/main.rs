//! What ships beside the binary: the Debian package and the systemd units.

mod deb;
mod systemd_units;
