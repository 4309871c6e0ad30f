//! DogStatsD events (`_e{…}`) and service checks (`_sc|…`); rare, so they own their strings.

use std::str;

use backends::{Event, ServiceCheck};

use super::bytes::find;
use super::error::ParseError;
use super::metric::parse_tag_list;
use super::number::parse_signed_seconds;

fn parse_text(raw: &[u8]) -> Result<String, ParseError> {
    str::from_utf8(raw).map(str::to_owned).map_err(|_| ParseError::InvalidUtf8)
}

fn parse_length(raw: &[u8]) -> Option<usize> {
    if raw.is_empty() || raw.len() > 6 || !raw.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(raw.iter().fold(0, |acc, &d| acc * 10 + usize::from(d - b'0')))
}

/// `_e{title_len,text_len}:title|text|…`; lengths are in bytes, the title is non-empty, `\n`
/// escapes in the text become newlines, `p:` is `normal|low`, `t:` is
/// `error|warning|info|success`, unknown fields are ignored.
pub(super) fn parse_event(line: &[u8]) -> Result<Event, ParseError> {
    const BAD: ParseError = ParseError::BadEvent;
    let body = &line[3..];
    let close = find(body, b'}').ok_or(BAD)?;
    let (title_len, text_len) = {
        let lens = &body[..close];
        let comma = find(lens, b',').ok_or(BAD)?;
        (parse_length(&lens[..comma]).ok_or(BAD)?, parse_length(&lens[comma + 1..]).ok_or(BAD)?)
    };
    let rest = body[close + 1..].strip_prefix(b":").ok_or(BAD)?;
    if title_len == 0 || rest.len() < title_len + 1 + text_len {
        return Err(BAD);
    }
    let (title, rest) = rest.split_at(title_len);
    let rest = rest.strip_prefix(b"|").ok_or(BAD)?;
    let (text, rest) = rest.split_at(text_len);
    let mut event = Event {
        title: parse_text(title)?,
        text: parse_text(text)?.replace("\\n", "\n"),
        timestamp: None,
        hostname: None,
        aggregation_key: None,
        priority: None,
        source_type: None,
        alert_type: None,
        tags: Vec::new(),
    };
    if rest.is_empty() {
        return Ok(event);
    }
    let rest = rest.strip_prefix(b"|").ok_or(BAD)?;
    for field in rest.split(|&b| b == b'|') {
        match field {
            [] => return Err(BAD),
            [b'd', b':', ts @ ..] => event.timestamp = Some(parse_signed_seconds(ts).ok_or(BAD)?),
            [b'h', b':', v @ ..] => event.hostname = Some(parse_text(v)?),
            [b'k', b':', v @ ..] => event.aggregation_key = Some(parse_text(v)?),
            [b'p', b':', v @ ..] => match v {
                b"normal" | b"low" => event.priority = Some(parse_text(v)?),
                _ => return Err(BAD),
            },
            [b's', b':', v @ ..] => event.source_type = Some(parse_text(v)?),
            [b't', b':', v @ ..] => match v {
                b"error" | b"warning" | b"info" | b"success" => event.alert_type = Some(parse_text(v)?),
                _ => return Err(BAD),
            },
            [b'#', tags @ ..] => event.tags = parse_tag_list(tags)?,
            _ => {}
        }
    }
    Ok(event)
}

/// `_sc|name|status|…`; status is `0..=3`, `m:` takes the rest of the line (it may contain
/// `|`), unknown fields are ignored.
pub(super) fn parse_service_check(line: &[u8]) -> Result<ServiceCheck, ParseError> {
    const BAD: ParseError = ParseError::BadServiceCheck;
    let rest = &line[4..];
    let (name, rest) = split_field(rest);
    if name.is_empty() {
        return Err(BAD);
    }
    let (status, mut rest) = split_field(rest.ok_or(BAD)?);
    let status = match status {
        [d @ b'0'..=b'3'] => d - b'0',
        _ => return Err(BAD),
    };
    let mut check = ServiceCheck {
        name: parse_text(name)?,
        status,
        timestamp: None,
        hostname: None,
        message: None,
        tags: Vec::new(),
    };
    while let Some(remaining) = rest {
        if let Some(message) = remaining.strip_prefix(b"m:") {
            check.message = Some(parse_text(message)?.replace("\\n", "\n"));
            break;
        }
        let (field, next) = split_field(remaining);
        rest = next;
        match field {
            [] => return Err(BAD),
            [b'd', b':', ts @ ..] => check.timestamp = Some(parse_signed_seconds(ts).ok_or(BAD)?),
            [b'h', b':', v @ ..] => check.hostname = Some(parse_text(v)?),
            [b'#', tags @ ..] => check.tags = parse_tag_list(tags)?,
            _ => {}
        }
    }
    Ok(check)
}

fn split_field(raw: &[u8]) -> (&[u8], Option<&[u8]>) {
    match find(raw, b'|') {
        Some(i) => (&raw[..i], Some(&raw[i + 1..])),
        None => (raw, None),
    }
}
