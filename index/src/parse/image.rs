//! Scanned images (PNG, JPEG, TIFF): their text comes only from OCR.
//!
//! This reader decodes no pixels. It checks the header of each format with
//! small readers of its own (PNG `IHDR`, JPEG start-of-frame, the IFD chain
//! of a TIFF), refuses pictures larger than [`Limits::max_image_pixels`]
//! ([`ParseFailure::ImageTooLarge`]: decoding one would take gigabytes), and
//! returns one page per picture (a multi-page TIFF has several), each
//! without blocks: every page needs OCR ([`ParsedPage::needs_ocr`]). The
//! pixels are read later by the OCR engine, in a separate, bounded process
//! (`crate::ocr`).

use std::collections::HashSet;

use super::{DocKind, Limits, ParseFailure, ParsedDocument, ParsedPage, Parser};

/// Reads `.png`, `.jpg`/`.jpeg` and `.tif`/`.tiff` files.
pub(crate) struct ImageParser;

impl Parser for ImageParser {
    fn kind(&self) -> DocKind {
        DocKind::Image
    }

    fn parse(&self, bytes: &[u8], limits: &Limits) -> Result<ParsedDocument, ParseFailure> {
        if bytes.is_empty() {
            return Err(ParseFailure::Empty);
        }
        let sizes = if bytes.starts_with(PNG_MAGIC) {
            vec![png_size(bytes)?]
        } else if bytes.starts_with(b"\xff\xd8\xff") {
            vec![jpeg_size(bytes)?]
        } else if bytes.starts_with(b"II") || bytes.starts_with(b"MM") {
            tiff_sizes(bytes, limits)?
        } else {
            return Err(malformed("not a png, jpeg or tiff image"));
        };
        let mut pages = Vec::with_capacity(sizes.len());
        for (number, (width, height)) in (1..).zip(sizes) {
            if width == 0 || height == 0 {
                return Err(malformed("the image has no pixels (width or height 0)"));
            }
            if u64::from(width) * u64::from(height) > limits.max_image_pixels {
                return Err(ParseFailure::ImageTooLarge {
                    width,
                    height,
                    max_pixels: limits.max_image_pixels,
                });
            }
            pages.push(ParsedPage::new(number, Vec::new()));
        }
        Ok(ParsedDocument {
            kind: DocKind::Image,
            title: None,
            pages,
        })
    }
}

const PNG_MAGIC: &[u8] = b"\x89PNG\r\n\x1a\n";

fn malformed(detail: &str) -> ParseFailure {
    ParseFailure::Malformed {
        detail: detail.to_owned(),
    }
}

fn be16(bytes: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes(bytes.get(at..at + 2)?.try_into().ok()?))
}

fn be32(bytes: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(bytes.get(at..at + 4)?.try_into().ok()?))
}

/// Width and height from the `IHDR` chunk, which must come first.
fn png_size(bytes: &[u8]) -> Result<(u32, u32), ParseFailure> {
    let truncated = || malformed("the png header is cut short");
    if bytes.get(12..16) != Some(b"IHDR") {
        return Err(if bytes.len() < 16 {
            truncated()
        } else {
            malformed("the png does not start with its IHDR header")
        });
    }
    let width = be32(bytes, 16).ok_or_else(truncated)?;
    let height = be32(bytes, 20).ok_or_else(truncated)?;
    Ok((width, height))
}

/// Width and height from the first start-of-frame segment, walking the
/// segments from the start of the file (each says its length).
fn jpeg_size(bytes: &[u8]) -> Result<(u32, u32), ParseFailure> {
    let truncated = || malformed("the jpeg ends before its frame header");
    let mut at = 2;
    loop {
        // Markers may be preceded by any number of 0xFF fill bytes.
        while bytes.get(at) == Some(&0xff) && bytes.get(at + 1) == Some(&0xff) {
            at += 1;
        }
        if bytes.get(at) != Some(&0xff) {
            return Err(if at >= bytes.len() {
                truncated()
            } else {
                malformed("the jpeg segments are damaged")
            });
        }
        let marker = *bytes.get(at + 1).ok_or_else(truncated)?;
        at += 2;
        match marker {
            // Markers without a length: TEM, RSTn, SOI.
            0x01 | 0xd0..=0xd8 => continue,
            // End of image or start of scan before any frame header.
            0xd9 | 0xda => return Err(malformed("the jpeg has no frame header")),
            // SOF0–SOF15, but DHT (C4), JPG (C8) and DAC (CC) are not frames.
            0xc0..=0xcf if !matches!(marker, 0xc4 | 0xc8 | 0xcc) => {
                // Length (2), precision (1), height (2), width (2).
                let height = be16(bytes, at + 3).ok_or_else(truncated)?;
                let width = be16(bytes, at + 5).ok_or_else(truncated)?;
                if height == 0 {
                    // Height given later by a DNL segment: rare, and not
                    // checkable here.
                    return Err(malformed("the jpeg does not state its height"));
                }
                return Ok((u32::from(width), u32::from(height)));
            }
            _ => {
                let length = be16(bytes, at).ok_or_else(truncated)?;
                if length < 2 {
                    return Err(malformed("the jpeg segments are damaged"));
                }
                at += usize::from(length);
            }
        }
    }
}

/// Width and height of every image (page) in the TIFF's chain of IFDs, at
/// most [`Limits::max_pages`]; a chain that loops is damaged.
fn tiff_sizes(bytes: &[u8], limits: &Limits) -> Result<Vec<(u32, u32)>, ParseFailure> {
    let little = match bytes.get(..4) {
        Some(b"II*\0") => true,
        Some(b"MM\0*") => false,
        Some(b"II+\0" | b"MM\0+") => {
            return Err(ParseFailure::Unsupported {
                what: "BigTIFF image".to_owned(),
            });
        }
        _ => return Err(malformed("not a tiff image")),
    };
    let u16_at = |at: usize| -> Option<u16> {
        let b: [u8; 2] = bytes.get(at..at.checked_add(2)?)?.try_into().ok()?;
        Some(if little {
            u16::from_le_bytes(b)
        } else {
            u16::from_be_bytes(b)
        })
    };
    let u32_at = |at: usize| -> Option<u32> {
        let b: [u8; 4] = bytes.get(at..at.checked_add(4)?)?.try_into().ok()?;
        Some(if little {
            u32::from_le_bytes(b)
        } else {
            u32::from_be_bytes(b)
        })
    };
    let truncated = || malformed("the tiff directory is cut short");
    let mut sizes = Vec::new();
    let mut seen = HashSet::new();
    let mut offset = u32_at(4).ok_or_else(truncated)?;
    while offset != 0 {
        if !seen.insert(offset) {
            return Err(malformed("the tiff's chain of pages loops"));
        }
        if sizes.len() >= limits.max_pages as usize {
            return Err(ParseFailure::LimitExceeded {
                limit: "max_pages",
                max: u64::from(limits.max_pages),
            });
        }
        let ifd = offset as usize;
        let entries = usize::from(u16_at(ifd).ok_or_else(truncated)?);
        let (mut width, mut height) = (None, None);
        for i in 0..entries {
            let entry = ifd + 2 + i * 12;
            let tag = u16_at(entry).ok_or_else(truncated)?;
            let kind = u16_at(entry + 2).ok_or_else(truncated)?;
            // SHORT (3) or LONG (4), one value, stored in the entry itself.
            let value = match kind {
                3 => u16_at(entry + 8).map(u32::from),
                4 => u32_at(entry + 8),
                _ => None,
            };
            match tag {
                256 => width = value,
                257 => height = value,
                _ => {}
            }
        }
        match (width, height) {
            (Some(w), Some(h)) => sizes.push((w, h)),
            _ => return Err(malformed("a tiff page does not state its size")),
        }
        offset = u32_at(ifd + 2 + entries * 12).ok_or_else(truncated)?;
    }
    if sizes.is_empty() {
        return Err(malformed("the tiff has no pages"));
    }
    Ok(sizes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::parse_bytes;

    fn parse(bytes: &[u8]) -> Result<ParsedDocument, ParseFailure> {
        ImageParser.parse(bytes, &Limits::default())
    }

    /// A PNG header (signature and IHDR; no pixel data, which we never read).
    fn png_header(width: u32, height: u32) -> Vec<u8> {
        let mut out = PNG_MAGIC.to_vec();
        out.extend_from_slice(&13u32.to_be_bytes());
        out.extend_from_slice(b"IHDR");
        out.extend_from_slice(&width.to_be_bytes());
        out.extend_from_slice(&height.to_be_bytes());
        out.extend_from_slice(&[8, 0, 0, 0, 0]);
        out.extend_from_slice(&[0; 4]); // CRC, unchecked
        out
    }

    fn jpeg_header(width: u16, height: u16) -> Vec<u8> {
        let mut out = b"\xff\xd8".to_vec();
        // APP0 (JFIF), 16 bytes long.
        out.extend_from_slice(b"\xff\xe0\x00\x10JFIF\0\x01\x01\0\0\x01\0\x01\0\0");
        // Fill bytes, then SOF2 (progressive).
        out.extend_from_slice(b"\xff\xff\xc2\x00\x0b\x08");
        out.extend_from_slice(&height.to_be_bytes());
        out.extend_from_slice(&width.to_be_bytes());
        out.extend_from_slice(b"\x01\x01\x11\x00");
        out.extend_from_slice(b"\xff\xd9");
        out
    }

    /// A little-endian TIFF whose pages are `sizes`; `next_of_last` is the
    /// last page's "next IFD" offset (0 ends the chain).
    fn tiff(sizes: &[(u32, u32)], next_of_last: u32) -> Vec<u8> {
        let mut out = b"II*\0".to_vec();
        out.extend_from_slice(&8u32.to_le_bytes());
        for (i, (w, h)) in sizes.iter().enumerate() {
            out.extend_from_slice(&2u16.to_le_bytes());
            for (tag, value) in [(256u16, *w), (257, *h)] {
                out.extend_from_slice(&tag.to_le_bytes());
                out.extend_from_slice(&4u16.to_le_bytes());
                out.extend_from_slice(&1u32.to_le_bytes());
                out.extend_from_slice(&value.to_le_bytes());
            }
            let next = if i + 1 == sizes.len() {
                next_of_last
            } else {
                (out.len() + 4) as u32
            };
            out.extend_from_slice(&next.to_le_bytes());
        }
        out
    }

    fn pages(doc: &ParsedDocument) -> Vec<u32> {
        doc.pages_needing_ocr()
    }

    #[test]
    fn each_format_is_one_page_needing_ocr() -> Result<(), ParseFailure> {
        for bytes in [png_header(2480, 3508), jpeg_header(1700, 2200)] {
            let doc = parse(&bytes)?;
            assert_eq!((doc.kind, pages(&doc)), (DocKind::Image, vec![1]));
            assert_eq!(doc.char_count(), 0);
        }
        let doc = parse(&tiff(&[(100, 200), (300, 400), (5, 5)], 0))?;
        assert_eq!(pages(&doc), [1, 2, 3]);
        // Big-endian TIFF, SHORT values.
        let mut be = b"MM\0*\0\0\0\x08\0\x02".to_vec();
        be.extend_from_slice(b"\x01\x00\x00\x03\x00\x00\x00\x01\x09\x00\x00\x00");
        be.extend_from_slice(b"\x01\x01\x00\x03\x00\x00\x00\x01\x0c\x00\x00\x00");
        be.extend_from_slice(&[0; 4]);
        assert_eq!(pages(&parse(&be)?), [1]);
        Ok(())
    }

    #[test]
    fn detection_sends_images_here() -> Result<(), ParseFailure> {
        let doc = parse_bytes("scan.PNG", &png_header(10, 10), &Limits::default())?;
        assert_eq!(doc.kind, DocKind::Image);
        // Named .jpg but really a PNG: the content decides.
        let doc = parse_bytes("scan.jpg", &png_header(10, 10), &Limits::default())?;
        assert_eq!(doc.kind, DocKind::Image);
        Ok(())
    }

    #[test]
    fn huge_images_are_refused_before_anything_decodes_them() {
        let expected = Err(ParseFailure::ImageTooLarge {
            width: 30_000,
            height: 30_000,
            max_pixels: Limits::default().max_image_pixels,
        });
        assert_eq!(parse(&png_header(30_000, 30_000)), expected);
        assert_eq!(parse(&jpeg_header(30_000, 30_000)), expected);
        assert_eq!(parse(&tiff(&[(10, 10), (30_000, 30_000)], 0)), expected);
        let shown = parse(&png_header(30_000, 30_000))
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert_eq!(
            shown,
            "the image is too large for ocr: 30000 × 30000 pixels (900 megapixels); the limit is 100 megapixels"
        );
        // The largest PNG dimensions overflow nothing.
        assert!(matches!(
            parse(&png_header(u32::MAX, u32::MAX)),
            Err(ParseFailure::ImageTooLarge { .. })
        ));
    }

    #[test]
    fn damaged_headers_are_malformed_not_panics() {
        let limits = Limits::default();
        let mut cases: Vec<Vec<u8>> = vec![
            png_header(0, 10),
            PNG_MAGIC.to_vec(),
            b"\xff\xd8\xff".to_vec(),
            b"\xff\xd8\xff\xe0\x00\x01".to_vec(),
            b"\xff\xd8\xff\xda\x00\x02".to_vec(),
            jpeg_header(100, 0),
            b"II*\0".to_vec(),
            b"II*\0\xff\xff\xff\xff".to_vec(),
            tiff(&[(10, 10)], 8), // the last page points back at the first
            b"II*\0\x08\0\0\0\x01\0\x00\x01\x04\0\x01\0\0\0\x0a\0\0\0\0\0\0\0".to_vec(),
        ];
        // Every truncation of valid headers.
        let tiff = tiff(&[(9, 9)], 0);
        let needed = tiff.len();
        for (whole, needed) in [
            (png_header(9, 9), 24),
            (jpeg_header(9, 9), 30),
            (tiff, needed),
        ] {
            for end in 1..needed {
                cases.push(whole[..end].to_vec());
            }
        }
        for bytes in cases {
            let result = crate::parse::quietly(|| ImageParser.parse(&bytes, &limits));
            assert!(
                matches!(result, Ok(Err(ParseFailure::Malformed { .. }))),
                "{bytes:?}: {result:?}"
            );
        }
        assert!(matches!(
            parse(b"II+\0\x08\0\0\0"),
            Err(ParseFailure::Unsupported { .. })
        ));
    }

    #[test]
    fn page_count_is_limited() {
        let limits = Limits {
            max_pages: 2,
            ..Limits::default()
        };
        assert_eq!(
            ImageParser.parse(&tiff(&[(1, 1); 3], 0), &limits),
            Err(ParseFailure::LimitExceeded {
                limit: "max_pages",
                max: 2
            })
        );
    }
}
