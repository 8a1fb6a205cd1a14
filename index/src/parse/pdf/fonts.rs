//! Type0 fonts encoded by predefined CMaps that `pdf-extract` cannot read,
//! rewritten before extraction into encodings it can ([`map_predefined_cmaps`]):
//! the Unicode ones (`UniKS-UCS2-H`, ...) and the Korean legacy ones
//! (`KSCms-UHC-H`, `KSC-EUC-H`, `KSCpc-EUC-H`, decoded as CP949). Nothing
//! else about fonts lives here.

use std::collections::{BTreeMap, BTreeSet};

use pdf_extract::content::Content;
use pdf_extract::{Dictionary, Document, Object, ObjectId, Stream};

use super::decode::within;
use super::is_form;

/// Deepest nesting searched for font dictionaries inside one object (fonts
/// sit at most a few levels down: resources, font map, font).
const MAX_FONT_SEARCH_DEPTH: usize = 8;

/// Code units per `bfrange` block (the CMap format allows at most 100).
const CMAP_BLOCK: usize = 100;

/// The predefined CMaps this module rewrites, by what their codes are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Predefined {
    /// UTF-16 code units (`UniKS-UCS2-H`, `UniJIS-UTF16-V`, ...), read as
    /// this `Identity` encoding.
    Unicode(&'static str),
    /// CP949 / EUC-KR bytes (`KSCms-UHC-H`, `KSC-EUC-H`, `KSCpc-EUC-H`, ...).
    Korean,
}

/// The objects shared by every rewritten font, made on first use.
#[derive(Default)]
struct Shared {
    unicode_map: Option<ObjectId>,
    korean_map: Option<ObjectId>,
    korean_encoding: Option<ObjectId>,
}

/// Rewrites Type0 fonts whose encoding is a predefined CMap that
/// `pdf-extract` cannot read (it knows only `Identity-H/V` by name and
/// panics on the rest) into a form it reads. These fonts are common in
/// Korean, Japanese and Chinese PDFs with non-embedded fonts and no
/// ToUnicode map.
///
/// Unicode CMaps become `Identity` plus an identity ToUnicode map. Korean
/// legacy CMaps become an embedded CMap whose codes (one byte below 0x81,
/// two from a 0x81..=0xFE lead byte) are their own CIDs, plus a ToUnicode
/// map from each code the document uses to its CP949 character. Either
/// way widths move from CIDs to codes for the ASCII block, which every
/// Adobe CJK ordering puts at CIDs 1..=95 (the rest keep the default
/// width).
pub(super) fn map_predefined_cmaps(
    doc: &mut Document,
    pages: &BTreeMap<u32, ObjectId>,
    max_inflated: u64,
) {
    let ids: Vec<ObjectId> = doc.objects.keys().copied().collect();
    let mut shared = Shared::default();
    for id in ids {
        // Taken out so a font can be rewritten while its descendant, another
        // object, is read and changed.
        let Some(mut object) = doc.objects.remove(&id) else {
            continue;
        };
        visit_fonts(doc, &mut object, &mut shared, 0);
        doc.objects.insert(id, object);
    }
    if shared.unicode_map.is_none() && shared.korean_map.is_none() {
        return;
    }
    // Only the codes the document uses: `pdf-extract` builds the map afresh
    // for every page, and a full 63k-entry one costs ~50 ms a page. Extra
    // codes are harmless.
    let mut units = BTreeSet::new();
    let mut korean = BTreeSet::new();
    for_each_string(doc, pages, max_inflated, |bytes| {
        if shared.unicode_map.is_some() {
            units.extend(
                bytes
                    .chunks_exact(2)
                    .map(|pair| u16::from_be_bytes([pair[0], pair[1]])),
            );
        }
        if shared.korean_map.is_some() {
            korean.extend(korean_codes(bytes).filter(|&code| code > 0xFF));
        }
    });
    for (id, cmap) in [
        (shared.unicode_map, identity_cmap(&units)),
        (shared.korean_map, korean_cmap(&korean)),
    ] {
        if let Some(id) = id
            && let Ok(Object::Stream(stream)) = doc.get_object_mut(id)
        {
            stream.set_plain_content(cmap);
        }
    }
}

/// Calls `f` with every string operand in the pages and in form XObjects.
fn for_each_string(
    doc: &Document,
    pages: &BTreeMap<u32, ObjectId>,
    max_inflated: u64,
    mut f: impl FnMut(&[u8]),
) {
    let mut add = |content: &[u8]| {
        let Ok(content) = Content::decode(content) else {
            return;
        };
        for operand in content.operations.iter().flat_map(|op| &op.operands) {
            let strings = match operand {
                Object::Array(items) => items.as_slice(),
                other => std::slice::from_ref(other),
            };
            for string in strings {
                if let Object::String(bytes, _) = string {
                    f(bytes);
                }
            }
        }
    };
    for &page_id in pages.values() {
        let within = doc.get_page_contents(page_id).into_iter().all(|id| {
            doc.get_object(id)
                .and_then(Object::as_stream)
                .is_ok_and(|s| within(s, max_inflated))
        });
        if within && let Ok(content) = doc.get_page_content(page_id) {
            add(&content);
        }
    }
    for object in doc.objects.values() {
        if let Ok(stream) = object.as_stream()
            && is_form(stream)
            && within(stream, max_inflated)
        {
            add(&stream
                .decompressed_content()
                .unwrap_or_else(|_| stream.content.clone()));
        }
    }
}

/// A string's codes under the Korean CMaps: bytes up to 0x80 stand alone,
/// a 0x81..=0xFE lead byte takes the next byte with it.
fn korean_codes(bytes: &[u8]) -> impl Iterator<Item = u16> + '_ {
    let mut i = 0;
    std::iter::from_fn(move || {
        let lead = *bytes.get(i)?;
        if lead <= 0x80 || lead == 0xFF {
            i += 1;
            return Some(u16::from(lead));
        }
        let trail = *bytes.get(i + 1)?;
        i += 2;
        Some(u16::from_be_bytes([lead, trail]))
    })
}

/// The embedded encoding CMap for Korean fonts: each code is its own CID.
///
/// Written for `adobe-cmap-parser` 0.4 as `pdf-extract` 0.12 uses it: it
/// takes a code range's width in bytes as half its hex string's byte
/// length, so one-byte ranges are written with two bytes and two-byte
/// ranges with four; and it reads only the first `cidrange` entry right.
const KOREAN_ENCODING: &[u8] = b"/CIDInit /ProcSet findresource begin\n12 dict begin\nbegincmap\n\
/CIDSystemInfo << /Registry (Adobe) /Ordering (Korea1) /Supplement 0 >> def\n\
/CMapName /Sillok-KSC-Codes def\n/CMapType 1 def\n\
2 begincodespacerange\n<0000> <0080>\n<00008141> <0000FEFE>\nendcodespacerange\n\
1 begincidrange\n<0000> <FFFF> 0\nendcidrange\n\
endcmap\nCMapName currentdict /CMap defineresource pop\nend\nend\n";

/// A ToUnicode CMap for the Korean codes: ASCII as itself, each two-byte
/// code in `codes` as its CP949 character (codes that are not one are left
/// out, so they decode to nothing rather than to garbage).
fn korean_cmap(codes: &BTreeSet<u16>) -> Vec<u8> {
    let mut pairs = Vec::new();
    for &code in codes {
        let bytes = code.to_be_bytes();
        let Some(text) =
            encoding_rs::EUC_KR.decode_without_bom_handling_and_without_replacement(&bytes)
        else {
            continue;
        };
        let mut chars = text.chars();
        if let (Some(c), None) = (chars.next(), chars.next()) {
            let utf16: String = c
                .encode_utf16(&mut [0; 2])
                .iter()
                .map(|unit| format!("{unit:04X}"))
                .collect();
            pairs.push(format!("<{code:04X}> <{utf16}>\n"));
        }
    }
    let mut out = cmap_header("Sillok-KSC-UCS2", "<00> <FF>\n<8141> <FEFE>\n", 2);
    out.push_str("1 beginbfrange\n<20> <7E> <0020>\nendbfrange\n");
    for block in pairs.chunks(CMAP_BLOCK) {
        out.push_str(&format!("{} beginbfchar\n", block.len()));
        block.iter().for_each(|pair| out.push_str(pair));
        out.push_str("endbfchar\n");
    }
    out.push_str(CMAP_TRAILER);
    out.into_bytes()
}

const CMAP_TRAILER: &str = "endcmap\nCMapName currentdict /CMap defineresource pop\nend\nend\n";

/// The start of a ToUnicode CMap, up to and including its code space.
fn cmap_header(name: &str, codespace: &str, ranges: usize) -> String {
    format!(
        "/CIDInit /ProcSet findresource begin\n12 dict begin\nbegincmap\n\
         /CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def\n\
         /CMapName /{name} def\n/CMapType 2 def\n\
         {ranges} begincodespacerange\n{codespace}endcodespacerange\n"
    )
}

/// A ToUnicode CMap mapping each of `units` to itself, in runs (surrogate
/// halves left out: `pdf-extract` drops them anyway).
fn identity_cmap(units: &BTreeSet<u16>) -> Vec<u8> {
    let mut runs: Vec<(u16, u16)> = Vec::new();
    for &unit in units {
        if (0xD800..=0xDFFF).contains(&unit) {
            continue;
        }
        match runs.last_mut() {
            // A run stays within one high byte, as the format asks.
            Some((first, last))
                if *last + 1 == unit && first.to_be_bytes()[0] == unit.to_be_bytes()[0] =>
            {
                *last = unit;
            }
            _ => runs.push((unit, unit)),
        }
    }
    let mut out = cmap_header("Sillok-UTF16-Identity", "<0000> <FFFF>\n", 1);
    for block in runs.chunks(CMAP_BLOCK) {
        out.push_str(&format!("{} beginbfrange\n", block.len()));
        for (first, last) in block {
            out.push_str(&format!("<{first:04X}> <{last:04X}> <{first:04X}>\n"));
        }
        out.push_str("endbfrange\n");
    }
    out.push_str(CMAP_TRAILER);
    out.into_bytes()
}

fn visit_fonts(doc: &mut Document, object: &mut Object, shared: &mut Shared, depth: usize) {
    let dict = match object {
        Object::Dictionary(dict) => dict,
        Object::Stream(stream) => &mut stream.dict,
        Object::Array(items) if depth < MAX_FONT_SEARCH_DEPTH => {
            for item in items {
                visit_fonts(doc, item, shared, depth + 1);
            }
            return;
        }
        _ => return,
    };
    if let Some(predefined) = predefined_cmap(dict) {
        let (encoding, map) = match predefined {
            Predefined::Unicode(identity) => (
                Object::Name(identity.as_bytes().to_vec()),
                &mut shared.unicode_map,
            ),
            Predefined::Korean => {
                let id = *shared.korean_encoding.get_or_insert_with(|| {
                    doc.add_object(Stream::new(Dictionary::new(), KOREAN_ENCODING.to_vec()))
                });
                (Object::Reference(id), &mut shared.korean_map)
            }
        };
        remap_font(doc, dict, encoding, map);
        return;
    }
    if depth < MAX_FONT_SEARCH_DEPTH {
        for (_, value) in dict.iter_mut() {
            visit_fonts(doc, value, shared, depth + 1);
        }
    }
}

/// The kind of predefined CMap a Type0 font is encoded by, if it is one
/// this module rewrites.
fn predefined_cmap(font: &Dictionary) -> Option<Predefined> {
    if font.get(b"Subtype").and_then(Object::as_name).ok() != Some(b"Type0") {
        return None;
    }
    let name = font.get(b"Encoding").and_then(Object::as_name).ok()?;
    let name = std::str::from_utf8(name).ok()?;
    let unicode = name.starts_with("Uni") && (name.contains("-UCS2-") || name.contains("-UTF16-"));
    // Not KSC-H (7-bit ISO-2022 codes) nor KSC-Johab-H.
    let korean = name.starts_with("KSC") && (name.contains("-EUC-") || name.contains("-UHC-"));
    match name.rsplit('-').next() {
        Some("H") if unicode => Some(Predefined::Unicode("Identity-H")),
        Some("V") if unicode => Some(Predefined::Unicode("Identity-V")),
        Some("H" | "V") if korean => Some(Predefined::Korean),
        _ => None,
    }
}

fn remap_font(
    doc: &mut Document,
    font: &mut Dictionary,
    encoding: Object,
    to_unicode: &mut Option<ObjectId>,
) {
    font.set("Encoding", encoding);
    // A ToUnicode stream maps codes, which the new encoding keeps as CIDs, so
    // an existing one still applies; a name (or junk) is replaced.
    let has_map = font
        .get(b"ToUnicode")
        .ok()
        .and_then(|t| doc.dereference(t).ok())
        .is_some_and(|(_, t)| t.as_stream().is_ok());
    if !has_map {
        let id = *to_unicode.get_or_insert_with(|| {
            // Filled in once every font is seen.
            doc.add_object(Stream::new(Dictionary::new(), Vec::new()))
        });
        font.set("ToUnicode", Object::Reference(id));
    }
    // The descendant font: inline or by reference, in an array that may
    // itself be a reference.
    let descendant = match font.get_mut(b"DescendantFonts") {
        Ok(Object::Array(items)) => items.first_mut(),
        Ok(Object::Reference(id)) => {
            let id = *id;
            return remap_descendant_in(doc, id);
        }
        _ => None,
    };
    match descendant {
        Some(Object::Dictionary(cid_font)) => {
            let widths = ascii_widths(doc, cid_font);
            cid_font.set("W", widths);
        }
        Some(Object::Reference(id)) => {
            let id = *id;
            remap_descendant(doc, id);
        }
        _ => {}
    }
}

/// `DescendantFonts` is a reference to an array.
fn remap_descendant_in(doc: &mut Document, array_id: ObjectId) {
    let first = match doc.get_object(array_id).and_then(Object::as_array) {
        Ok(items) => items.first().cloned(),
        Err(_) => None,
    };
    match first {
        Some(Object::Reference(id)) => remap_descendant(doc, id),
        Some(Object::Dictionary(_)) => {
            let widths = match doc.get_object(array_id).and_then(Object::as_array) {
                Ok(items) => match items.first() {
                    Some(Object::Dictionary(cid_font)) => ascii_widths(doc, cid_font),
                    _ => return,
                },
                Err(_) => return,
            };
            if let Ok(Object::Array(items)) = doc.get_object_mut(array_id)
                && let Some(Object::Dictionary(cid_font)) = items.first_mut()
            {
                cid_font.set("W", widths);
            }
        }
        _ => {}
    }
}

fn remap_descendant(doc: &mut Document, id: ObjectId) {
    let Ok(cid_font) = doc.get_dictionary(id) else {
        return;
    };
    let widths = ascii_widths(doc, cid_font);
    if let Ok(cid_font) = doc.get_dictionary_mut(id) {
        cid_font.set("W", widths);
    }
}

/// A `W` array giving codes 0x20..=0x7E the widths of CIDs 1..=95 (missing
/// ones the font's default width), in the one form `pdf-extract` reads right.
fn ascii_widths(doc: &Document, cid_font: &Dictionary) -> Object {
    let default = cid_font
        .get(b"DW")
        .ok()
        .and_then(|w| number(doc, w))
        .unwrap_or(1000.0);
    let mut widths = [default; 95];
    let items = cid_font
        .get(b"W")
        .ok()
        .and_then(|w| doc.dereference(w).ok())
        .and_then(|(_, w)| w.as_array().ok())
        .map(Vec::as_slice)
        .unwrap_or_default();
    let mut set = |cid: f32, width: f32| {
        if cid.fract() == 0.0 && (1.0..=95.0).contains(&cid) {
            // In range and whole, so the cast is exact.
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            let slot = cid as usize - 1;
            widths[slot] = width;
        }
    };
    let mut i = 0;
    while let Some(first) = items.get(i).and_then(|c| number(doc, c)) {
        let next = items
            .get(i + 1)
            .and_then(|n| doc.dereference(n).ok())
            .map(|(_, n)| n);
        if let Some(Object::Array(list)) = next {
            for (k, width) in list.iter().enumerate().take(95) {
                if let Some(width) = number(doc, width) {
                    set(first + k as f32, width);
                }
            }
            i += 2;
        } else {
            let (Some(last), Some(width)) = (
                items.get(i + 1).and_then(|l| number(doc, l)),
                items.get(i + 2).and_then(|w| number(doc, w)),
            ) else {
                break;
            };
            let mut cid = first.max(1.0);
            while cid <= last.min(95.0) {
                set(cid, width);
                cid += 1.0;
            }
            i += 3;
        }
    }
    Object::Array(vec![
        Object::Integer(0x20),
        Object::Array(widths.iter().map(|&w| Object::Real(w)).collect()),
    ])
}

fn number(doc: &Document, object: &Object) -> Option<f32> {
    let (_, object) = doc.dereference(object).ok()?;
    object.as_float().ok().filter(|v| v.is_finite())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn korean_codes_follow_the_lead_byte() {
        let codes: Vec<u16> = korean_codes(b"A\xb0\xed \x80\xff\xb0").collect();
        assert_eq!(codes, [0x41, 0xB0ED, 0x20, 0x80, 0xFF]);
    }

    #[test]
    fn korean_to_unicode_maps_used_codes_only() -> Result<(), std::str::Utf8Error> {
        let codes = BTreeSet::from([0xB0ED, 0xC7F7, 0x8141, 0x8120]);
        let cmap = korean_cmap(&codes);
        let cmap = std::str::from_utf8(&cmap)?;
        assert!(cmap.contains("<20> <7E> <0020>"));
        // 고, 혈, and the first UHC extension syllable 갂.
        assert!(cmap.contains("<B0ED> <ACE0>"));
        assert!(cmap.contains("<C7F7> <D608>"));
        assert!(cmap.contains("<8141> <AC02>"));
        // Not a character in CP949.
        assert!(!cmap.contains("<8120>"));
        assert!(cmap.contains("3 beginbfchar"));
        Ok(())
    }
}
