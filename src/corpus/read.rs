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
    fn format_comes_from_extension() {
        assert_eq!(format_of("a.TXT"), Some(Format::Text));
        assert_eq!(format_of("b.md"), Some(Format::Markdown));
        assert_eq!(format_of("c.html"), Some(Format::Html));
        assert_eq!(format_of("d.HTM"), Some(Format::Html));
        assert_eq!(format_of("c.toml"), None);
        assert_eq!(format_of("README"), None);
    }
}
