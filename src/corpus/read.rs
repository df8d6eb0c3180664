//! Reading one corpus file as text: the format its name implies, UTF-16 and BOMs decoded, binary
//! and empty files skipped with a warning, invalid UTF-8 replaced.

use std::fs;
use std::io::Read;

use anyhow::{Context, Result};

use super::FileEntry;
use crate::model::{Format, SourceText};

/// Bytes looked at to decide whether a file is binary.
const SNIFF_BYTES: usize = 8192;

/// The format a file name implies: `.txt` is plain text, `.md`/`.markdown` Markdown,
/// `.html`/`.htm` HTML.
pub fn format_of(name: &str) -> Option<Format> {
    let ext = name.rsplit_once('.')?.1.to_ascii_lowercase();
    match ext.as_str() {
        "txt" => Some(Format::Text),
        "md" | "markdown" => Some(Format::Markdown),
        "html" | "htm" => Some(Format::Html),
        _ => None,
    }
}

/// Reads one document. An empty or binary file gives `Ok(None)` and a warning; invalid UTF-8 is
/// replaced (U+FFFD) with a warning; NUL bytes become spaces.
pub fn read(entry: &FileEntry, warnings: &mut Vec<String>) -> Result<Option<SourceText>> {
    let mut bytes = Vec::with_capacity(entry.size as usize);
    fs::File::open(&entry.path)
        .and_then(|mut f| f.read_to_end(&mut bytes))
        .with_context(|| format!("reading {}", entry.path.display()))?;
    if bytes.is_empty() {
        warnings.push(format!("skipping {}: empty file", entry.source));
        return Ok(None);
    }
    if let Some(text) = decode_utf16(&bytes) {
        bytes = text.into_bytes();
    }
    if bytes.starts_with(b"\xEF\xBB\xBF") {
        bytes.drain(..3);
    }
    if looks_binary(&bytes[..bytes.len().min(SNIFF_BYTES)]) {
        warnings.push(format!("skipping {}: binary file", entry.source));
        return Ok(None);
    }
    let mut text = match String::from_utf8(bytes) {
        Ok(text) => text,
        Err(e) => {
            warnings.push(format!(
                "{} is not valid UTF-8 (first bad byte at offset {}): invalid bytes replaced by U+FFFD",
                entry.source,
                e.utf8_error().valid_up_to()
            ));
            String::from_utf8_lossy(e.as_bytes()).into_owned()
        }
    };
    if text.contains('\0') {
        text = text.replace('\0', " ");
    }
    // Old Mac files end lines with a lone CR; segmentation splits lines at LF only.
    if text.contains('\r') {
        text = text.replace("\r\n", "\n").replace('\r', "\n");
    }
    let format = format_of(&entry.source).unwrap_or(Format::Text);
    Ok(Some(SourceText {
        source: entry.source.clone(),
        format,
        text,
    }))
}

/// Reads one document as [`read`] does, handing its text to `each` a piece at a time, each
/// piece about `piece_bytes` and ending after a line break (the last may not): the pieces put
/// together are the text `read` gives, with the same warnings, but only a piece is held. A
/// UTF-16 file is decoded whole and given as one piece. `Ok(false)` for an empty or binary file.
pub fn read_pieces(
    entry: &FileEntry,
    piece_bytes: usize,
    warnings: &mut Vec<String>,
    each: &mut dyn FnMut(&str),
) -> Result<bool> {
    let context = || format!("reading {}", entry.path.display());
    let mut file = fs::File::open(&entry.path).with_context(context)?;
    let piece_bytes = piece_bytes.max(SNIFF_BYTES + 3);
    let mut buffer = Vec::with_capacity(piece_bytes);
    let mut at_end = fill(&mut file, &mut buffer, piece_bytes).with_context(context)?;
    if buffer.is_empty() {
        warnings.push(format!("skipping {}: empty file", entry.source));
        return Ok(false);
    }
    if matches!(buffer[..], [0xFF, 0xFE, ..] | [0xFE, 0xFF, ..]) {
        return Ok(match read(entry, warnings)? {
            Some(source) => {
                each(&source.text);
                true
            }
            None => false,
        });
    }
    if buffer.starts_with(b"\xEF\xBB\xBF") {
        buffer.drain(..3);
    }
    if looks_binary(&buffer[..buffer.len().min(SNIFF_BYTES)]) {
        warnings.push(format!("skipping {}: binary file", entry.source));
        return Ok(false);
    }
    // Bytes handed on so far (after the byte order mark), for the offset a warning gives.
    let mut offset = 0;
    let mut warned = false;
    loop {
        // A piece ends after its last line break, which no UTF-8 sequence, CR LF pair or
        // replaced stretch straddles: the rest waits for the next read.
        let end = if at_end {
            buffer.len()
        } else {
            match buffer.iter().rposition(|&b| b == b'\n') {
                Some(n) => n + 1,
                None => {
                    let more = buffer.len() + piece_bytes;
                    at_end = fill(&mut file, &mut buffer, more).with_context(context)?;
                    continue;
                }
            }
        };
        let text = match std::str::from_utf8(&buffer[..end]) {
            Ok(text) => std::borrow::Cow::Borrowed(text),
            Err(e) => {
                if !warned {
                    warnings.push(format!(
                        "{} is not valid UTF-8 (first bad byte at offset {}): invalid bytes replaced by U+FFFD",
                        entry.source,
                        offset + e.valid_up_to()
                    ));
                    warned = true;
                }
                String::from_utf8_lossy(&buffer[..end])
            }
        };
        let mut text = text;
        if text.contains('\0') {
            text = std::borrow::Cow::Owned(text.replace('\0', " "));
        }
        if text.contains('\r') {
            text = std::borrow::Cow::Owned(text.replace("\r\n", "\n").replace('\r', "\n"));
        }
        if !text.is_empty() {
            each(&text);
        }
        offset += end;
        buffer.drain(..end);
        if at_end && buffer.is_empty() {
            return Ok(true);
        }
        let more = buffer.len() + piece_bytes;
        at_end = fill(&mut file, &mut buffer, more).with_context(context)?;
    }
}

/// Reads from `file` until `buffer` holds `up_to` bytes or the file ends; true at its end.
fn fill(file: &mut fs::File, buffer: &mut Vec<u8>, up_to: usize) -> std::io::Result<bool> {
    while buffer.len() < up_to {
        let want = (up_to - buffer.len()) as u64;
        let read = file.by_ref().take(want).read_to_end(buffer)?;
        if read == 0 {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Text of a file that opens with a UTF-16 byte order mark (either byte order), unpaired
/// surrogates replaced by U+FFFD; `None` for any other file.
fn decode_utf16(bytes: &[u8]) -> Option<String> {
    let little = match bytes {
        [0xFF, 0xFE, ..] => true,
        [0xFE, 0xFF, ..] => false,
        _ => return None,
    };
    let units = bytes[2..].chunks_exact(2).map(|pair| {
        let pair = [pair[0], pair[1]];
        if little {
            u16::from_le_bytes(pair)
        } else {
            u16::from_be_bytes(pair)
        }
    });
    Some(
        char::decode_utf16(units)
            .map(|c| c.unwrap_or(char::REPLACEMENT_CHARACTER))
            .collect(),
    )
}

/// Binary if more than 1% of the sample (and more than two bytes) is NUL, or more than 10% is
/// other control bytes: a stray NUL in a text file, even a short one, does not make it binary.
fn looks_binary(sample: &[u8]) -> bool {
    if sample.is_empty() {
        return false;
    }
    let nul = sample.iter().filter(|&&b| b == 0).count();
    let control = sample
        .iter()
        .filter(|&&b| b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\r' | 0x0c | 0x1b | 0))
        .count();
    (nul > 2 && nul * 100 > sample.len()) || control * 10 > sample.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stray_nul_is_text_but_many_nuls_are_binary() {
        let mut text = b"hello world, this is text ".repeat(20);
        text.push(0);
        assert!(!looks_binary(&text));
        assert!(!looks_binary(b"Nul\n\nA paragraph about the\0axolotl.\n"));
        assert!(looks_binary(&[0u8, 1, 2, 3, 0, 0, 7, 8]));
    }

    #[test]
    fn pieces_put_together_are_the_text_read_whole_with_the_same_warnings() {
        let dir = tempfile::tempdir().unwrap();
        let mut long = b"a stray \0 nul\n".to_vec();
        long.extend("line one\r\nline two\rline three\n\n".repeat(2_000).into_bytes());
        long.extend_from_slice(b"bad \xE2\x82 bytes\nend without a break");
        let mut utf16 = vec![0xFF, 0xFE];
        utf16.extend("Hi\nthere".encode_utf16().flat_map(u16::to_le_bytes));
        let cases: Vec<(&str, Vec<u8>)> = vec![
            ("empty.md", Vec::new()),
            ("bom.md", b"\xEF\xBB\xBF# Title\n\nText.\n".to_vec()),
            ("only-bom.md", b"\xEF\xBB\xBF".to_vec()),
            ("binary.md", vec![0u8; 100]),
            ("long.md", long),
            ("utf16.md", utf16),
            ("no-break.md", "x".repeat(30_000).into_bytes()),
        ];
        for (name, bytes) in cases {
            let path = dir.path().join(name);
            fs::write(&path, &bytes).unwrap();
            let entry = FileEntry {
                source: name.to_string(),
                path,
                size: bytes.len() as u64,
                mtime_ns: 0,
            };
            let mut whole_warnings = Vec::new();
            let whole = read(&entry, &mut whole_warnings).unwrap().map(|s| s.text);
            for piece in [1, 9_000, 1 << 20] {
                let mut warnings = Vec::new();
                let mut text = String::new();
                let mut pieces = 0;
                let read = read_pieces(&entry, piece, &mut warnings, &mut |t| {
                    pieces += 1;
                    text.push_str(t);
                })
                .unwrap();
                assert_eq!(read.then_some(text), whole, "{name} piece {piece}");
                assert_eq!(warnings, whole_warnings, "{name} piece {piece}");
                if name == "long.md" && piece == 9_000 {
                    assert!(pieces > 3, "{pieces} pieces");
                }
            }
        }
    }

    #[test]
    fn format_comes_from_extension() {
        assert_eq!(format_of("a.TXT"), Some(Format::Text));
        assert_eq!(format_of("b.md"), Some(Format::Markdown));
        assert_eq!(format_of("c.html"), Some(Format::Html));
        assert_eq!(format_of("d.HTM"), Some(Format::Html));
        assert_eq!(format_of("c.toml"), None);
        assert_eq!(format_of("README"), None);
    }
}
