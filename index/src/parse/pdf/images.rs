//! Image XObjects: which pages draw them (a page that does and has no text
//! is a scan that needs OCR), and emptying them before extraction:
//! `pdf-extract` decodes every XObject a page draws, images included, and
//! parses the pixels as drawing operators, which costs a full inflate of
//! every scan for nothing.

use std::collections::{BTreeMap, BTreeSet};

use pdf_extract::{Dictionary, Document, Object, ObjectId, Stream};

use super::deref_dict;
use super::inflate::is_image;

/// Deepest form nesting searched for images.
const MAX_FORM_DEPTH: usize = 8;

/// The numbers of the pages whose resources (or whose forms' resources)
/// hold an image XObject. Call after inherited resources are flattened.
pub(super) fn pages_with_images(doc: &Document, pages: &BTreeMap<u32, ObjectId>) -> BTreeSet<u32> {
    pages
        .iter()
        .filter(|&(_, &id)| {
            doc.get_dictionary(id)
                .ok()
                .and_then(|page| deref_dict(doc, page.get(b"Resources").ok()?))
                .is_some_and(|resources| draws_image(doc, resources, &mut Vec::new()))
        })
        .map(|(&number, _)| number)
        .collect()
}

fn draws_image(doc: &Document, resources: &Dictionary, path: &mut Vec<ObjectId>) -> bool {
    let Some(xobjects) = resources
        .get(b"XObject")
        .ok()
        .and_then(|x| deref_dict(doc, x))
    else {
        return false;
    };
    for (_, xobject) in xobjects.iter() {
        let Ok((id, Object::Stream(stream))) = doc.dereference(xobject) else {
            continue;
        };
        if is_image(&stream.dict) {
            return true;
        }
        let id = id.unwrap_or((0, 0));
        if path.len() >= MAX_FORM_DEPTH || path.contains(&id) {
            continue;
        }
        let Some(inner) = stream
            .dict
            .get(b"Resources")
            .ok()
            .and_then(|r| deref_dict(doc, r))
        else {
            continue;
        };
        path.push(id);
        let found = draws_image(doc, inner, path);
        path.pop();
        if found {
            return true;
        }
    }
    false
}

/// Replaces every image stream with an empty form, so drawing it is a no-op.
pub(super) fn empty_images(doc: &mut Document) {
    for object in doc.objects.values_mut() {
        if let Object::Stream(stream) = object
            && is_image(&stream.dict)
        {
            let mut dict = Dictionary::new();
            dict.set("Type", Object::Name(b"XObject".to_vec()));
            dict.set("Subtype", Object::Name(b"Form".to_vec()));
            dict.set("BBox", Object::Array(vec![Object::Integer(0); 4]));
            *object = Object::Stream(Stream::new(dict, Vec::new()));
        }
    }
}
