//! JSON written by hand for the export's hot loop: the bytes serde_json writes for a string and
//! a passage's line, without its per-field dispatch (the export writes a million lines a run).

/// Appends `text` as a JSON string, quotes included, escaped exactly as serde_json escapes it:
/// `"` and `\` after a backslash, `\b \f \n \r \t` short, other control bytes as `\u00xx`
/// (lower-case hex), everything else (DEL and non-ASCII included) as it is.
pub(super) fn push_str(out: &mut Vec<u8>, text: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push(b'"');
    let bytes = text.as_bytes();
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        // Eight bytes at a time while none needs escaping (most text has none).
        if let Some(word) = bytes[i..].first_chunk::<8>() {
            if !any_to_escape(u64::from_le_bytes(*word)) {
                i += 8;
                continue;
            }
        }
        let b = bytes[i];
        i += 1;
        if b >= 0x20 && b != b'"' && b != b'\\' {
            continue;
        }
        out.extend_from_slice(&bytes[start..i - 1]);
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x0c => out.extend_from_slice(b"\\f"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            _ => out.extend_from_slice(&[
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[usize::from(b >> 4)],
                HEX[usize::from(b & 0xf)],
            ]),
        }
        start = i;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

/// Does any of the eight bytes of `word` need escaping: a control byte (below 0x20), `"` or
/// `\`? The bit tricks that find a zero byte (and a byte below a bound) in a word: exact
/// about whether there is one, which is all this asks.
fn any_to_escape(word: u64) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let below_space = word.wrapping_sub(ONES * 0x20) & !word & HIGH;
    let is = |byte: u8| {
        let x = word ^ (ONES * u64::from(byte));
        x.wrapping_sub(ONES) & !x & HIGH
    };
    (below_space | is(b'"') | is(b'\\')) != 0
}

/// Appends a list of strings as a JSON array.
pub(super) fn push_strs(out: &mut Vec<u8>, items: &[String]) {
    out.push(b'[');
    for (n, item) in items.iter().enumerate() {
        if n > 0 {
            out.push(b',');
        }
        push_str(out, item);
    }
    out.push(b']');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_escaped_as_serde_json_escapes_them() {
        let every_control: String = (0u8..0x20).map(char::from).collect();
        for text in [
            "",
            "plain",
            "quote \" and backslash \\ inside",
            "tab\tnew\nline\rcarriage",
            &every_control,
            "del \u{7f} and é, 漢字, emoji 🦀, \u{2028} separator",
            "\u{1b}[31mred\u{1b}[0m",
            "a long run of clean text, then a \"quote\" and more clean text \\ to the end",
            "clean for eight!\x01then 16 bytes..\x1f",
        ] {
            let mut out = Vec::new();
            push_str(&mut out, text);
            assert_eq!(out, serde_json::to_vec(text).unwrap(), "{text:?}");
        }
    }

    #[test]
    fn a_word_needs_escaping_when_any_of_its_bytes_does() {
        for byte in 0u8..=255 {
            for at in 0..8 {
                let mut word = *b"abcdefgh";
                word[at] = byte;
                let expected = byte < 0x20 || byte == b'"' || byte == b'\\';
                assert_eq!(
                    any_to_escape(u64::from_le_bytes(word)),
                    expected,
                    "{byte:#x} at {at}"
                );
            }
        }
    }

    #[test]
    fn lists_are_arrays_as_serde_json_writes_them() {
        for items in [
            vec![],
            vec!["a".to_string()],
            vec!["a\"b".to_string(), "c".to_string()],
        ] {
            let mut out = Vec::new();
            push_strs(&mut out, &items);
            assert_eq!(out, serde_json::to_vec(&items).unwrap());
        }
    }
}
