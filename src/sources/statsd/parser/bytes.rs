//! Byte helpers the line parsers share.

/// The index of the first `needle` in `haystack`.
pub fn find(haystack: &[u8], needle: u8) -> Option<usize> {
    haystack.iter().position(|&b| b == needle)
}
