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
    for (i, &b) in bytes.iter().enumerate() {
        if b >= 0x20 && b != b'"' && b != b'\\' {
            continue;
        }
        out.extend_from_slice(&bytes[start..i]);
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
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
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
        ] {
            let mut out = Vec::new();
            push_str(&mut out, text);
            assert_eq!(out, serde_json::to_vec(text).unwrap(), "{text:?}");
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
