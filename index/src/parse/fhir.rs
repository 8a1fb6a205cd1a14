//! FHIR R4 resources as readable text: a JSON Bundle (nested bundles
//! flattened), one resource, or bulk-export NDJSON (one resource a line).
//!
//! Every resource Sillok reads becomes its own page — pages are the unit of
//! provenance and chunks never cross them — carrying the patient it is about
//! and when it happened in [`PageMeta`]: the Patient's id, or the
//! `subject`/`patient` reference (`Patient/123` → `123`, `urn:uuid:` references
//! resolved through the bundle's `fullUrl`s), and the first of the resource's
//! effective/onset/authored/performed/period/issued/date times in UTC
//! ([`super::clinical::fhir_time`]). Pages are grouped by patient, the Patient
//! page first, otherwise in file order. A Bundle or NDJSON file starts with a
//! summary page: the patients, what was read, and what was not (resource types
//! Sillok does not read, NDJSON lines that are not valid JSON, attachments cut
//! short), so a skipped part is a status the user can see rather than silence.
//!
//! Owns the JSON guards: nesting is checked by a byte scan before serde_json
//! builds anything ([`MAX_JSON_DEPTH`], below serde_json's own recursion limit
//! of 128, which stays as a second guard), so a file nested 100 000 deep is a
//! [`ParseFailure::LimitExceeded`], never a stack overflow; every function that
//! walks a parsed value is bounded by that depth. Embedded base64 attachments
//! are decoded only for text types, at most [`MAX_ATTACHMENT_BYTES`] each and
//! [`Limits::max_decompressed_bytes`] in all.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};

use serde_json::Value;

use super::clinical::{base64_decode, fhir_time};
use super::{
    Block, BlockKind, BlockSink, Deadline, DocKind, Limits, PageMeta, ParseFailure, ParsedDocument,
    ParsedPage, Parser, parser_for,
};

/// Reads FHIR R4 JSON and NDJSON.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct FhirParser;

/// Deepest `{`/`[` nesting accepted. Real resources stay under 20; this is
/// under serde_json's recursion limit (128) so that our message is the one
/// the user sees.
const MAX_JSON_DEPTH: usize = 100;

/// Most bytes decoded from one base64 attachment; the rest is cut off, with
/// a note.
const MAX_ATTACHMENT_BYTES: usize = 1024 * 1024;

/// Bundles nested inside bundles are flattened down to this depth.
const MAX_BUNDLE_NESTING: usize = 8;

impl Parser for FhirParser {
    fn kind(&self) -> DocKind {
        DocKind::Fhir
    }

    fn parse(&self, bytes: &[u8], limits: &Limits) -> Result<ParsedDocument, ParseFailure> {
        let deadline = Deadline::new(limits);
        deadline.check()?;
        let bytes = without_nuls(bytes);
        let body = trim_ascii(bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(&bytes));
        if body.is_empty() {
            return Err(ParseFailure::Empty);
        }
        let input = read_input(body, deadline)?;
        render_document(&input, limits, deadline)
    }
}

fn without_nuls(bytes: &[u8]) -> Cow<'_, [u8]> {
    if bytes.contains(&0) {
        Cow::Owned(bytes.iter().copied().filter(|&b| b != 0).collect())
    } else {
        Cow::Borrowed(bytes)
    }
}

fn trim_ascii(bytes: &[u8]) -> &[u8] {
    let start = bytes
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(bytes.len());
    let end = bytes
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(start, |i| i + 1);
    &bytes[start..end.max(start)]
}

// ---------------------------------------------------------------------------
// Reading the JSON

/// What the file held.
struct Input {
    shape: Shape,
    /// The top-level values: one, or one per NDJSON line that parsed.
    values: Vec<Value>,
    /// NDJSON lines that could not be read: (line number, why).
    broken_lines: Vec<(usize, String)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    /// One JSON value: a Bundle, a resource, or an array of resources.
    Whole,
    /// One resource a line.
    Ndjson,
}

fn read_input(body: &[u8], deadline: Deadline) -> Result<Input, ParseFailure> {
    if looks_like_ndjson(body) {
        // A JSON document laid out with every line starting "{" is rare, but
        // it is one document: try it whole first.
        if check_depth(body).is_ok()
            && let Ok(value) = serde_json::from_slice::<Value>(body)
        {
            return Ok(Input {
                shape: Shape::Whole,
                values: vec![value],
                broken_lines: Vec::new(),
            });
        }
        return read_ndjson(body, deadline);
    }
    check_depth(body)?;
    let value = serde_json::from_slice::<Value>(body).map_err(|e| ParseFailure::Malformed {
        detail: format!("not valid fhir json: {}", json_error(&e)),
    })?;
    Ok(Input {
        shape: Shape::Whole,
        values: vec![value],
        broken_lines: Vec::new(),
    })
}

/// At least two non-empty lines, each starting with `{`: a pretty-printed
/// JSON document has lines starting with `"`, `}` or `]`.
fn looks_like_ndjson(body: &[u8]) -> bool {
    let mut lines = body
        .split(|&b| b == b'\n')
        .map(trim_ascii)
        .filter(|l| !l.is_empty());
    let mut count = 0;
    lines.all(|l| {
        count += 1;
        l.starts_with(b"{")
    }) && count >= 2
}

/// Reads each line on its own: one broken line (a truncated export, a bad
/// edit) costs that line only, and is listed on the summary page. A file in
/// which no line reads fails as a whole.
fn read_ndjson(body: &[u8], deadline: Deadline) -> Result<Input, ParseFailure> {
    let mut values = Vec::new();
    let mut broken_lines = Vec::new();
    for (i, line) in body.split(|&b| b == b'\n').enumerate() {
        if i.is_multiple_of(256) {
            deadline.check()?;
        }
        let line = trim_ascii(line);
        if line.is_empty() {
            continue;
        }
        let number = i + 1;
        if let Err(failure) = check_depth(line) {
            broken_lines.push((number, failure.to_string()));
            continue;
        }
        match serde_json::from_slice::<Value>(line) {
            Ok(value) if value.get("resourceType").and_then(Value::as_str).is_some() => {
                values.push(value);
            }
            Ok(_) => broken_lines.push((number, "not a fhir resource (no resourceType)".into())),
            Err(e) => broken_lines.push((number, json_error(&e))),
        }
    }
    if values.is_empty() {
        let first = broken_lines
            .first()
            .map(|(n, why)| format!(" (line {n}: {why})"))
            .unwrap_or_default();
        return Err(ParseFailure::Malformed {
            detail: format!("no line of the fhir ndjson file could be read{first}"),
        });
    }
    Ok(Input {
        shape: Shape::Ndjson,
        values,
        broken_lines,
    })
}

/// serde_json's error in words, without quoting the document.
fn json_error(e: &serde_json::Error) -> String {
    use serde_json::error::Category;
    let what = match e.classify() {
        Category::Eof => "the json is cut off",
        Category::Syntax => "json syntax error",
        Category::Data => "unexpected json value",
        Category::Io => "read error",
    };
    format!("{what} at line {} column {}", e.line(), e.column())
}

/// Fails if `{`/`[` nest deeper than [`MAX_JSON_DEPTH`] (outside strings).
/// Linear, no allocation: runs before serde_json sees the bytes.
fn check_depth(bytes: &[u8]) -> Result<(), ParseFailure> {
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for &b in bytes {
        if in_string {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'{' | b'[' => {
                depth += 1;
                if depth > MAX_JSON_DEPTH {
                    return Err(ParseFailure::LimitExceeded {
                        limit: "json nesting depth",
                        max: MAX_JSON_DEPTH as u64,
                    });
                }
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// The resources and references among them

/// One resource found in the input, with the bundle entry's `fullUrl`.
#[derive(Clone, Copy)]
struct Entry<'a> {
    resource: &'a Value,
    full_url: Option<&'a str>,
}

/// Every resource of the file, and the resources by `fullUrl` and by
/// `Type/id`, for references.
struct Resources<'a> {
    entries: Vec<Entry<'a>>,
    by_key: HashMap<String, &'a Value>,
    /// Patient ids by the keys that reference them (`fullUrl`, `Patient/id`).
    patients: HashMap<String, String>,
    /// Values that are not resources (no `resourceType`).
    untyped: usize,
    /// The type of the one top-level value when it is a single resource.
    single: Option<&'a str>,
}

impl<'a> Resources<'a> {
    fn collect(input: &'a Input) -> Resources<'a> {
        let mut out = Resources {
            entries: Vec::new(),
            by_key: HashMap::new(),
            patients: HashMap::new(),
            untyped: 0,
            single: None,
        };
        for value in &input.values {
            out.add(value, None, 0);
        }
        if input.shape == Shape::Whole
            && let Some(top) = input.values.first()
        {
            out.single = resource_type(top).filter(|kind| *kind != "Bundle");
        }
        for entry in &out.entries {
            if let Some(url) = entry.full_url {
                out.by_key.insert(url.to_owned(), entry.resource);
            }
            let kind = resource_type(entry.resource);
            if let (Some(kind), Some(id)) = (kind, str_at(entry.resource, "id")) {
                out.by_key.insert(format!("{kind}/{id}"), entry.resource);
            }
            if kind == Some("Patient")
                && let Some(id) = patient_id(entry.resource, entry.full_url)
            {
                if let Some(url) = entry.full_url {
                    out.patients.insert(url.to_owned(), id.clone());
                }
                out.patients.insert(format!("Patient/{id}"), id);
            }
        }
        out
    }

    fn add(&mut self, value: &'a Value, full_url: Option<&'a str>, nesting: usize) {
        if let Some(items) = value.as_array() {
            // Not FHIR, but what a hand-made export may hold: a list of resources.
            if nesting == 0 {
                for item in items {
                    self.add(item, None, nesting + 1);
                }
            } else {
                self.untyped += 1;
            }
            return;
        }
        match resource_type(value) {
            Some("Bundle") if nesting < MAX_BUNDLE_NESTING => {
                for entry in array_at(value, "entry") {
                    if let Some(resource) = entry.get("resource") {
                        self.add(resource, str_at(entry, "fullUrl"), nesting + 1);
                    }
                }
            }
            Some(_) => self.entries.push(Entry {
                resource: value,
                full_url,
            }),
            None => self.untyped += 1,
        }
    }

    /// The resource a reference string points to, if it is in the file.
    fn resolve(&self, reference: &str) -> Option<&'a Value> {
        if let Some(found) = self.by_key.get(reference) {
            return Some(found);
        }
        let (kind, id) = type_and_id(reference)?;
        self.by_key.get(&format!("{kind}/{id}")).copied()
    }

    /// The patient a resource is about: a Patient's own id, else its
    /// `subject`/`patient` reference when that names a Patient.
    fn patient_of(&self, entry: Entry<'a>) -> Option<String> {
        let r = entry.resource;
        if resource_type(r) == Some("Patient") {
            return patient_id(r, entry.full_url);
        }
        let reference = ["subject", "patient"]
            .iter()
            .find_map(|key| r.get(*key).and_then(|v| str_at(v, "reference")))?;
        if let Some(id) = self.patients.get(reference) {
            return Some(id.clone());
        }
        if self.by_key.contains_key(reference) {
            // In the file, and not a Patient (a Group, a Device …).
            return None;
        }
        // Not in this file: only a literal Patient/… reference says who.
        match type_and_id(reference) {
            Some(("Patient", id)) => Some(id.to_owned()),
            _ => None,
        }
    }
}

/// `Patient.id`, else the uuid of its `urn:uuid:` fullUrl.
fn patient_id(patient: &Value, full_url: Option<&str>) -> Option<String> {
    str_at(patient, "id")
        .or_else(|| full_url.and_then(|u| u.strip_prefix("urn:uuid:")))
        .map(str::to_owned)
}

/// `("Patient", "123")` from `Patient/123`, `https://host/fhir/Patient/123`
/// or `Patient/123/_history/2`.
fn type_and_id(reference: &str) -> Option<(&str, &str)> {
    let path = reference.split(['?', '#']).next().unwrap_or(reference);
    let path = match path.find("/_history/") {
        Some(at) => &path[..at],
        None => path,
    };
    let mut parts = path.rsplit('/');
    let id = parts.next().filter(|s| !s.is_empty())?;
    let kind = parts
        .next()
        .filter(|k| k.starts_with(|c: char| c.is_ascii_uppercase()))?;
    Some((kind, id))
}

fn resource_type(v: &Value) -> Option<&str> {
    str_at(v, "resourceType")
}

/// A non-blank string field, trimmed.
fn str_at<'v>(v: &'v Value, key: &str) -> Option<&'v str> {
    v.get(key)?
        .as_str()
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

fn array_at<'v>(v: &'v Value, key: &str) -> impl Iterator<Item = &'v Value> {
    v.get(key).and_then(Value::as_array).into_iter().flatten()
}

/// The first of these times that parses, as seconds since the epoch (UTC).
const EFFECTIVE_PATHS: &[&[&str]] = &[
    &["effectiveDateTime"],
    &["effectiveInstant"],
    &["effectivePeriod", "start"],
    &["onsetDateTime"],
    &["onsetPeriod", "start"],
    &["occurrenceDateTime"],
    &["authoredOn"],
    &["performedDateTime"],
    &["performedPeriod", "start"],
    &["period", "start"],
    &["issued"],
    &["date"],
    &["recordedDate"],
    &["context", "period", "start"],
];

fn effective_of(r: &Value) -> Option<i64> {
    if resource_type(r) == Some("Patient") {
        return None;
    }
    EFFECTIVE_PATHS.iter().find_map(|path| {
        let mut v = r;
        for key in *path {
            v = v.get(*key)?;
        }
        fhir_time(v.as_str()?)
    })
}

// ---------------------------------------------------------------------------
// Rendering values as words

/// A number as written, without a trailing `.0` (`116.0` → `116`).
fn number(v: &Value) -> Option<String> {
    match v {
        Value::Number(n) => {
            let s = n.to_string();
            Some(s.strip_suffix(".0").map(str::to_owned).unwrap_or(s))
        }
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        _ => None,
    }
}

/// `CodeableConcept` (or a bare `Coding`) in words: its text, else the first
/// coding's display, else its code.
fn concept(v: &Value) -> Option<String> {
    if let Some(text) = v.as_str() {
        // R4 made many codes CodeableConcepts; older exports have strings.
        return Some(text.trim().to_owned()).filter(|t| !t.is_empty());
    }
    if let Some(text) = str_at(v, "text") {
        return Some(text.to_owned());
    }
    let codings: Vec<&Value> = array_at(v, "coding")
        .chain(v.get("code").map(|_| v))
        .collect();
    codings
        .iter()
        .find_map(|c| str_at(c, "display"))
        .or_else(|| codings.iter().find_map(|c| str_at(c, "code")))
        .map(str::to_owned)
}

/// Each of a list of CodeableConcepts in words, joined with ", ".
fn concepts<'v>(values: impl Iterator<Item = &'v Value>) -> Option<String> {
    let words: Vec<String> = values.filter_map(concept).collect();
    (!words.is_empty()).then(|| words.join(", "))
}

/// The codes of a CodeableConcept, e.g. `LOINC 8480-6`, for searching by code.
fn codes(v: &Value) -> Option<String> {
    let list: Vec<String> = array_at(v, "coding")
        .filter_map(|c| {
            let code = str_at(c, "code")?;
            Some(match str_at(c, "system") {
                Some(system) => format!("{} {code}", system_name(system)),
                None => code.to_owned(),
            })
        })
        .collect();
    (!list.is_empty()).then(|| list.join(", "))
}

fn system_name(url: &str) -> &str {
    match url {
        "http://loinc.org" => "LOINC",
        "http://snomed.info/sct" => "SNOMED CT",
        "http://www.nlm.nih.gov/research/umls/rxnorm" => "RxNorm",
        "http://hl7.org/fhir/sid/icd-10-cm" => "ICD-10-CM",
        "http://hl7.org/fhir/sid/icd-10" => "ICD-10",
        "http://hl7.org/fhir/sid/icd-9-cm" => "ICD-9-CM",
        "http://hl7.org/fhir/sid/cvx" => "CVX",
        "http://hl7.org/fhir/sid/ndc" => "NDC",
        "http://unitsofmeasure.org" => "UCUM",
        "http://www.ama-assn.org/go/cpt" => "CPT",
        other => other
            .rsplit(['/', ':'])
            .find(|s| !s.is_empty())
            .unwrap_or(other),
    }
}

/// `Quantity` (also `Age`, `Duration`, `SimpleQuantity`): comparator, value
/// and unit, e.g. `< 5.4 mmol/L`.
fn quantity(v: &Value) -> Option<String> {
    let value = number(v.get("value")?)?;
    let mut out = String::new();
    if let Some(comparator) = str_at(v, "comparator") {
        out.push_str(comparator);
        out.push(' ');
    }
    out.push_str(&value);
    if let Some(unit) = str_at(v, "unit").or_else(|| str_at(v, "code")) {
        out.push(' ');
        out.push_str(unit);
    }
    Some(out)
}

fn range(v: &Value) -> Option<String> {
    let low = v.get("low").and_then(quantity);
    let high = v.get("high").and_then(quantity);
    match (low, high) {
        (Some(l), Some(h)) => Some(format!("{l} – {h}")),
        (Some(l), None) => Some(format!("≥ {l}")),
        (None, Some(h)) => Some(format!("≤ {h}")),
        (None, None) => str_at(v, "text").map(str::to_owned),
    }
}

fn period(v: &Value) -> Option<String> {
    match (str_at(v, "start"), str_at(v, "end")) {
        (Some(s), Some(e)) if s == e => Some(s.to_owned()),
        (Some(s), Some(e)) => Some(format!("{s} – {e}")),
        (Some(s), None) => Some(format!("from {s}")),
        (None, Some(e)) => Some(format!("until {e}")),
        (None, None) => None,
    }
}

/// A `value[x]` (or `onset[x]`, `performed[x]` … with `prefix`) in words.
fn choice(v: &Value, prefix: &str) -> Option<String> {
    let obj = v.as_object()?;
    for (key, value) in obj {
        let Some(kind) = key.strip_prefix(prefix) else {
            continue;
        };
        let text = match kind {
            "Quantity" | "Age" | "Duration" | "Count" | "Distance" | "Money" => quantity(value),
            "CodeableConcept" | "Coding" => concept(value),
            "String" | "Code" | "Markdown" | "Uri" | "Url" | "Id" => {
                value.as_str().map(|s| s.trim().to_owned())
            }
            "DateTime" | "Date" | "Time" | "Instant" => value.as_str().map(str::to_owned),
            "Boolean" => value
                .as_bool()
                .map(|b| if b { "yes" } else { "no" }.to_owned()),
            "Integer" | "Decimal" | "PositiveInt" | "UnsignedInt" => number(value),
            "Range" => range(value),
            "Period" => period(value),
            "Ratio" => match (
                value.get("numerator").and_then(quantity),
                value.get("denominator").and_then(quantity),
            ) {
                (Some(n), Some(d)) => Some(format!("{n} / {d}")),
                (Some(n), None) => Some(n),
                _ => None,
            },
            "Reference" => str_at(value, "display").map(str::to_owned),
            _ => None,
        };
        if let Some(text) = text.filter(|t| !t.is_empty()) {
            return Some(text);
        }
    }
    None
}

/// A HumanName: its text, else prefix given family suffix.
fn human_name(v: &Value) -> Option<String> {
    if let Some(text) = str_at(v, "text") {
        return Some(text.to_owned());
    }
    let mut parts: Vec<&str> = Vec::new();
    parts.extend(array_at(v, "prefix").filter_map(Value::as_str));
    parts.extend(array_at(v, "given").filter_map(Value::as_str));
    parts.extend(str_at(v, "family"));
    parts.extend(array_at(v, "suffix").filter_map(Value::as_str));
    let name = parts
        .iter()
        .map(|p| p.trim())
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    (!name.is_empty()).then_some(name)
}

/// The official name, else the first.
fn patient_name(patient: &Value) -> Option<String> {
    let names: Vec<&Value> = array_at(patient, "name").collect();
    names
        .iter()
        .find(|n| str_at(n, "use") == Some("official"))
        .or(names.first())
        .and_then(|n| human_name(n))
}

fn address(v: &Value) -> Option<String> {
    if let Some(text) = str_at(v, "text") {
        return Some(text.to_owned());
    }
    let mut parts: Vec<&str> = array_at(v, "line").filter_map(Value::as_str).collect();
    for key in ["city", "district", "state", "postalCode", "country"] {
        parts.extend(str_at(v, key));
    }
    (!parts.is_empty()).then(|| parts.join(", "))
}

fn encounter_class(v: &Value) -> Option<String> {
    let code = str_at(v, "code");
    let words = str_at(v, "display").or(match code? {
        "AMB" => Some("ambulatory"),
        "EMER" => Some("emergency"),
        "IMP" => Some("inpatient"),
        "ACUTE" => Some("inpatient acute"),
        "NONAC" => Some("inpatient non-acute"),
        "OBSENC" => Some("observation"),
        "PRENC" => Some("pre-admission"),
        "SS" => Some("short stay"),
        "HH" => Some("home health"),
        "VR" => Some("virtual"),
        "FLD" => Some("field"),
        _ => None,
    });
    match (words, code) {
        (Some(w), Some(c)) if w != c => Some(format!("{w} ({c})")),
        (Some(w), _) => Some(w.to_owned()),
        (None, c) => c.map(str::to_owned),
    }
}

fn period_unit(unit: &str) -> &str {
    match unit {
        "s" => "second",
        "min" => "minute",
        "h" => "hour",
        "d" => "day",
        "wk" => "week",
        "mo" => "month",
        "a" => "year",
        other => other,
    }
}

/// A `Dosage` in words: its text, else dose, timing, route and as-needed.
fn dosage(v: &Value) -> Option<String> {
    let mut parts: Vec<String> = Vec::new();
    if let Some(text) = str_at(v, "text") {
        parts.push(text.to_owned());
    }
    for dose_and_rate in array_at(v, "doseAndRate") {
        if let Some(dose) = choice(dose_and_rate, "dose") {
            parts.push(format!("dose {dose}"));
        }
        if let Some(rate) = choice(dose_and_rate, "rate") {
            parts.push(format!("rate {rate}"));
        }
    }
    if let Some(timing) = v.get("timing") {
        if let Some(code) = timing.get("code").and_then(concept) {
            parts.push(code);
        }
        if let Some(repeat) = timing.get("repeat") {
            let frequency = repeat.get("frequency").and_then(number);
            let every = repeat.get("period").and_then(number);
            let unit = str_at(repeat, "periodUnit").map(period_unit);
            match (frequency, every, unit) {
                (Some(f), Some(p), Some(u)) if p == "1" => {
                    parts.push(format!("{f} {} per {u}", times(&f)));
                }
                (Some(f), Some(p), Some(u)) => {
                    parts.push(format!("{f} {} every {p} {u}s", times(&f)))
                }
                _ => {}
            }
            if let Some(bounds) = repeat.get("boundsPeriod").and_then(period) {
                parts.push(bounds);
            }
        }
    }
    if let Some(route) = v.get("route").and_then(concept) {
        parts.push(format!("route {route}"));
    }
    match v.get("asNeededBoolean").and_then(Value::as_bool) {
        Some(true) => parts.push("as needed".into()),
        _ => {
            if let Some(reason) = v.get("asNeededCodeableConcept").and_then(concept) {
                parts.push(format!("as needed for {reason}"));
            }
        }
    }
    (!parts.is_empty()).then(|| parts.join("; "))
}

fn times(frequency: &str) -> &'static str {
    if frequency == "1" { "time" } else { "times" }
}

// ---------------------------------------------------------------------------
// Pages

/// Builds one resource's page.
struct Page {
    sink: BlockSink,
    /// What the heading names the resource by.
    label: Option<String>,
}

impl Page {
    fn new(kind: &str, label: Option<&str>) -> Page {
        let mut sink = BlockSink::default();
        let heading = match label {
            Some(label) => format!("{kind} — {label}"),
            None => kind.to_owned(),
        };
        sink.push(BlockKind::Heading { level: 1 }, &heading);
        Page {
            sink,
            label: label.map(str::to_owned),
        }
    }

    /// `label: value`, when there is a value the heading does not already say.
    fn field(&mut self, label: &str, value: Option<impl AsRef<str>>) {
        if let Some(value) = value {
            let value = value.as_ref().trim();
            if !value.is_empty() && self.label.as_deref() != Some(value) {
                self.sink
                    .push(BlockKind::Paragraph, &format!("{label}: {value}"));
            }
        }
    }

    fn item(&mut self, text: &str) {
        self.sink.push(BlockKind::ListItem, text);
    }

    fn notes(&mut self, r: &Value) {
        for note in array_at(r, "note") {
            self.field("Note", str_at(note, "text"));
        }
    }
}

/// Renders resources; holds what rendering notices along the way.
struct Renderer<'a, 'l> {
    resources: &'a Resources<'a>,
    limits: &'l Limits,
    /// Bytes decoded from attachments so far.
    decoded: u64,
    /// Attachments cut short or left out, for the summary.
    attachment_notes: Vec<String>,
}

impl<'a> Renderer<'a, '_> {
    /// The page for one resource; `None` for types Sillok does not read.
    fn render(&mut self, r: &'a Value) -> Option<Page> {
        let kind = resource_type(r)?;
        let page = match kind {
            "Patient" => self.patient(r),
            "Condition" => self.condition(r),
            "Observation" => self.observation(r),
            "MedicationRequest"
            | "MedicationStatement"
            | "MedicationAdministration"
            | "MedicationDispense" => self.medication(kind, r),
            "Procedure" => self.procedure(r),
            "Encounter" => self.encounter(r),
            "DiagnosticReport" => self.diagnostic_report(r),
            "DocumentReference" => self.document_reference(r),
            "Binary" => self.binary(r),
            "AllergyIntolerance" => self.allergy(r),
            "Immunization" => self.immunization(r),
            "CarePlan" => self.care_plan(r),
            "Goal" => self.goal(r),
            _ => return None,
        };
        Some(page)
    }

    fn patient(&mut self, r: &Value) -> Page {
        let name = patient_name(r);
        let mut p = Page::new("Patient", name.as_deref());
        p.field("Name", name.as_deref());
        let others: Vec<String> = array_at(r, "name")
            .filter_map(human_name)
            .filter(|n| Some(n) != name.as_ref())
            .collect();
        if !others.is_empty() {
            p.field("Other names", Some(others.join("; ")));
        }
        p.field("Patient id", str_at(r, "id"));
        p.field("Gender", str_at(r, "gender"));
        p.field("Birth date", str_at(r, "birthDate"));
        p.field("Deceased", choice(r, "deceased"));
        p.field("Marital status", r.get("maritalStatus").and_then(concept));
        let ids: Vec<String> = array_at(r, "identifier")
            .filter_map(|id| {
                let value = str_at(id, "value")?;
                let kind = id
                    .get("type")
                    .and_then(concept)
                    .or_else(|| str_at(id, "system").map(|s| system_name(s).to_owned()));
                Some(match kind {
                    Some(kind) => format!("{kind} {value}"),
                    None => value.to_owned(),
                })
            })
            .collect();
        if !ids.is_empty() {
            p.field("Identifiers", Some(ids.join("; ")));
        }
        for a in array_at(r, "address") {
            p.field("Address", address(a));
        }
        for t in array_at(r, "telecom") {
            let kind = str_at(t, "system").unwrap_or("contact");
            p.field(kind, str_at(t, "value"));
        }
        p.field(
            "Language",
            concepts(array_at(r, "communication").filter_map(|c| c.get("language"))),
        );
        p
    }

    fn condition(&mut self, r: &Value) -> Page {
        let code = r.get("code").and_then(concept);
        let mut p = Page::new("Condition", code.as_deref());
        p.field("Condition", code.as_deref());
        p.field("Clinical status", r.get("clinicalStatus").and_then(concept));
        p.field(
            "Verification",
            r.get("verificationStatus").and_then(concept),
        );
        p.field("Category", concepts(array_at(r, "category")));
        p.field("Severity", r.get("severity").and_then(concept));
        p.field("Body site", concepts(array_at(r, "bodySite")));
        p.field("Onset", choice(r, "onset"));
        p.field("Abated", choice(r, "abatement"));
        p.field("Recorded", str_at(r, "recordedDate"));
        p.field("Code", r.get("code").and_then(codes));
        p.notes(r);
        p
    }

    /// The value of an Observation (or one of its components) in words.
    fn observed_value(v: &Value) -> Option<String> {
        choice(v, "value").or_else(|| {
            v.get("dataAbsentReason")
                .and_then(concept)
                .map(|why| format!("no value ({why})"))
        })
    }

    fn observation(&mut self, r: &Value) -> Page {
        let code = r.get("code").and_then(concept);
        let mut p = Page::new("Observation", code.as_deref());
        p.field(
            "Date",
            choice(r, "effective").or_else(|| str_at(r, "issued").map(str::to_owned)),
        );
        if let Some(value) = Self::observed_value(r) {
            p.field(code.as_deref().unwrap_or("Value"), Some(value));
        }
        for component in array_at(r, "component") {
            let name = component.get("code").and_then(concept);
            if let Some(value) = Self::observed_value(component) {
                let name = name.as_deref().unwrap_or("Value");
                p.item(&format!("{name}: {value}"));
            }
        }
        p.field("Interpretation", concepts(array_at(r, "interpretation")));
        for reference in array_at(r, "referenceRange") {
            p.field("Reference range", range(reference));
        }
        p.field("Category", concepts(array_at(r, "category")));
        p.field("Status", str_at(r, "status"));
        p.field("Code", r.get("code").and_then(codes));
        p.notes(r);
        p
    }

    /// The medication of a request/statement: its CodeableConcept, else the
    /// reference's display, else the referenced Medication's code.
    fn medication_name(&self, r: &Value) -> Option<String> {
        if let Some(name) = r.get("medicationCodeableConcept").and_then(concept) {
            return Some(name);
        }
        let reference = r.get("medicationReference")?;
        str_at(reference, "display").map(str::to_owned).or_else(|| {
            self.resources
                .resolve(str_at(reference, "reference")?)
                .and_then(|m| m.get("code"))
                .and_then(concept)
        })
    }

    /// References in words: each one's display, else what it points to.
    fn references<'v>(&self, refs: impl Iterator<Item = &'v Value>) -> Option<String> {
        let words: Vec<String> = refs
            .filter_map(|reference| {
                str_at(reference, "display").map(str::to_owned).or_else(|| {
                    let target = self.resources.resolve(str_at(reference, "reference")?)?;
                    target
                        .get("code")
                        .or_else(|| target.get("type"))
                        .and_then(concept)
                })
            })
            .collect();
        (!words.is_empty()).then(|| words.join(", "))
    }

    fn medication(&mut self, kind: &str, r: &Value) -> Page {
        let name = self.medication_name(r);
        let mut p = Page::new(kind, name.as_deref());
        p.field("Medication", name.as_deref());
        p.field("Status", str_at(r, "status"));
        p.field("Intent", str_at(r, "intent"));
        p.field("Authored", str_at(r, "authoredOn"));
        p.field("Taken", choice(r, "effective"));
        for d in array_at(r, "dosageInstruction").chain(array_at(r, "dosage")) {
            p.field("Dosage", dosage(d));
        }
        if let Some(d) = r.get("dosage").filter(|d| d.is_object()) {
            p.field("Dosage", dosage(d));
        }
        p.field(
            "Reason",
            concepts(array_at(r, "reasonCode"))
                .or_else(|| self.references(array_at(r, "reasonReference"))),
        );
        p.field(
            "Prescriber",
            r.get("requester").and_then(|v| str_at(v, "display")),
        );
        p.field("Code", r.get("medicationCodeableConcept").and_then(codes));
        p.notes(r);
        p
    }

    fn procedure(&mut self, r: &Value) -> Page {
        let code = r.get("code").and_then(concept);
        let mut p = Page::new("Procedure", code.as_deref());
        p.field("Procedure", code.as_deref());
        p.field("Status", str_at(r, "status"));
        p.field("Performed", choice(r, "performed"));
        p.field(
            "Reason",
            concepts(array_at(r, "reasonCode"))
                .or_else(|| self.references(array_at(r, "reasonReference"))),
        );
        p.field("Body site", concepts(array_at(r, "bodySite")));
        p.field("Outcome", r.get("outcome").and_then(concept));
        p.field("Code", r.get("code").and_then(codes));
        p.notes(r);
        p
    }

    fn encounter(&mut self, r: &Value) -> Page {
        let kind = concepts(array_at(r, "type"));
        let class = r.get("class").and_then(encounter_class);
        let mut p = Page::new("Encounter", kind.as_deref().or(class.as_deref()));
        p.field("Type", kind.as_deref());
        p.field("Class", class.as_deref());
        p.field("Period", r.get("period").and_then(period));
        p.field("Status", str_at(r, "status"));
        p.field(
            "Reason",
            concepts(array_at(r, "reasonCode"))
                .or_else(|| self.references(array_at(r, "reasonReference"))),
        );
        let diagnoses =
            self.references(array_at(r, "diagnosis").filter_map(|d| d.get("condition")));
        p.field("Diagnoses", diagnoses);
        let participants: Vec<&str> = array_at(r, "participant")
            .filter_map(|x| x.get("individual").and_then(|i| str_at(i, "display")))
            .collect();
        if !participants.is_empty() {
            p.field("Participants", Some(participants.join(", ")));
        }
        p.field(
            "Service provider",
            r.get("serviceProvider").and_then(|v| str_at(v, "display")),
        );
        p.field(
            "Discharge disposition",
            r.get("hospitalization")
                .and_then(|h| h.get("dischargeDisposition"))
                .and_then(concept),
        );
        p
    }

    fn diagnostic_report(&mut self, r: &'a Value) -> Page {
        let code = r.get("code").and_then(concept);
        let mut p = Page::new("DiagnosticReport", code.as_deref());
        p.field("Report", code.as_deref());
        p.field("Date", choice(r, "effective"));
        p.field("Issued", str_at(r, "issued"));
        p.field("Status", str_at(r, "status"));
        p.field("Category", concepts(array_at(r, "category")));
        for result in array_at(r, "result") {
            let resolved = str_at(result, "reference").and_then(|x| self.resources.resolve(x));
            let line = match resolved {
                Some(obs) => {
                    let name = obs.get("code").and_then(concept);
                    let value = Self::observed_value(obs);
                    match (name, value) {
                        (Some(n), Some(v)) => Some(format!("{n}: {v}")),
                        (n, v) => n.or(v),
                    }
                }
                None => str_at(result, "display").map(str::to_owned),
            };
            if let Some(line) = line {
                p.item(&line);
            }
        }
        p.field("Conclusion", str_at(r, "conclusion"));
        p.field("Diagnoses", concepts(array_at(r, "conclusionCode")));
        p.field("Code", r.get("code").and_then(codes));
        for form in array_at(r, "presentedForm") {
            self.attachment(&mut p, form);
        }
        p
    }

    fn document_reference(&mut self, r: &'a Value) -> Page {
        let kind = r.get("type").and_then(concept);
        let description = str_at(r, "description");
        let mut p = Page::new("DocumentReference", kind.as_deref().or(description));
        p.field("Document", kind.as_deref());
        p.field("Description", description);
        p.field("Date", str_at(r, "date"));
        p.field("Status", str_at(r, "status"));
        p.field("Category", concepts(array_at(r, "category")));
        let authors: Vec<&str> = array_at(r, "author")
            .filter_map(|a| str_at(a, "display"))
            .collect();
        if !authors.is_empty() {
            p.field("Author", Some(authors.join(", ")));
        }
        if let Some(context) = r.get("context") {
            p.field("Period", context.get("period").and_then(period));
        }
        for content in array_at(r, "content") {
            if let Some(attachment) = content.get("attachment") {
                self.attachment(&mut p, attachment);
            }
        }
        p
    }

    fn binary(&mut self, r: &Value) -> Page {
        let content_type = str_at(r, "contentType");
        let mut p = Page::new("Binary", content_type);
        // A Binary is an attachment with its fields at the top.
        self.attachment(&mut p, r);
        p
    }

    /// Appends an attachment's text: inline base64 `data` of a text type is
    /// decoded (capped) and read as plain text, HTML or Markdown; anything
    /// else is named, not read.
    fn attachment(&mut self, p: &mut Page, a: &Value) {
        let title = str_at(a, "title");
        let content_type = str_at(a, "contentType").unwrap_or("application/octet-stream");
        let essence = content_type
            .split(';')
            .next()
            .unwrap_or(content_type)
            .trim()
            .to_ascii_lowercase();
        let reader = match essence.as_str() {
            "text/html" | "application/xhtml+xml" => Some(DocKind::Html),
            "text/markdown" => Some(DocKind::Markdown),
            t if t.starts_with("text/") => Some(DocKind::Text),
            _ => None,
        };
        let data = a.get("data").and_then(Value::as_str);
        let (Some(reader), Some(data)) = (reader, data) else {
            let mut what = format!("{} ({content_type})", title.unwrap_or("attachment"));
            if data.is_some() {
                what.push_str(": not text, not read");
            } else if str_at(a, "url").is_some() {
                what.push_str(": stored elsewhere, not read");
            }
            p.field("Attachment", Some(what));
            return;
        };
        let budget = self
            .limits
            .max_decompressed_bytes
            .saturating_sub(self.decoded);
        let cap = MAX_ATTACHMENT_BYTES.min(usize::try_from(budget).unwrap_or(usize::MAX));
        let Some((bytes, cut)) = base64_decode(data, cap) else {
            p.field(
                "Attachment",
                Some(format!(
                    "{}: not valid base64, not read",
                    title.unwrap_or("attachment")
                )),
            );
            self.attachment_notes
                .push("an attachment is not valid base64".to_owned());
            return;
        };
        self.decoded = self.decoded.saturating_add(bytes.len() as u64);
        if cut {
            self.attachment_notes.push(format!(
                "an attachment is longer than {} bytes; only its start is read",
                cap
            ));
        }
        p.field("Attachment", title);
        let blocks = match parser_for(reader).parse(&bytes, self.limits) {
            Ok(doc) => doc.pages.into_iter().flat_map(|page| page.blocks).collect(),
            Err(ParseFailure::Empty) => Vec::new(),
            Err(failure) => {
                self.attachment_notes
                    .push(format!("an attachment could not be read: {failure}"));
                Vec::new()
            }
        };
        for block in blocks {
            p.sink.push(block.kind, &block.text);
        }
    }

    fn allergy(&mut self, r: &Value) -> Page {
        let code = r.get("code").and_then(concept);
        let mut p = Page::new("AllergyIntolerance", code.as_deref());
        p.field("Allergy", code.as_deref());
        p.field("Clinical status", r.get("clinicalStatus").and_then(concept));
        p.field(
            "Verification",
            r.get("verificationStatus").and_then(concept),
        );
        p.field("Type", str_at(r, "type"));
        let categories: Vec<&str> = array_at(r, "category").filter_map(Value::as_str).collect();
        if !categories.is_empty() {
            p.field("Category", Some(categories.join(", ")));
        }
        p.field("Criticality", str_at(r, "criticality"));
        p.field("Onset", choice(r, "onset"));
        p.field(
            "Recorded",
            str_at(r, "recordedDate").or(str_at(r, "assertedDate")),
        );
        for reaction in array_at(r, "reaction") {
            let mut words = concepts(array_at(reaction, "manifestation")).unwrap_or_default();
            if let Some(severity) = str_at(reaction, "severity") {
                words.push_str(&format!(" ({severity})"));
            }
            p.field("Reaction", Some(words));
        }
        p.field("Code", r.get("code").and_then(codes));
        p.notes(r);
        p
    }

    fn immunization(&mut self, r: &Value) -> Page {
        let vaccine = r.get("vaccineCode").and_then(concept);
        let mut p = Page::new("Immunization", vaccine.as_deref());
        p.field("Vaccine", vaccine.as_deref());
        p.field("Date", choice(r, "occurrence"));
        p.field("Status", str_at(r, "status"));
        p.field("Dose", r.get("doseQuantity").and_then(quantity));
        p.field("Site", r.get("site").and_then(concept));
        p.field("Route", r.get("route").and_then(concept));
        p.field("Lot", str_at(r, "lotNumber"));
        p.field("Code", r.get("vaccineCode").and_then(codes));
        p.notes(r);
        p
    }

    fn care_plan(&mut self, r: &Value) -> Page {
        let category = concepts(array_at(r, "category"));
        let label = str_at(r, "title").map(str::to_owned).or(category.clone());
        let mut p = Page::new("CarePlan", label.as_deref());
        p.field("Plan", category.as_deref());
        p.field("Description", str_at(r, "description"));
        p.field("Status", str_at(r, "status"));
        p.field("Period", r.get("period").and_then(period));
        p.field("Addresses", self.references(array_at(r, "addresses")));
        for activity in array_at(r, "activity") {
            if let Some(detail) = activity.get("detail") {
                let what = detail.get("code").and_then(concept);
                let status = str_at(detail, "status");
                match (what, status) {
                    (Some(w), Some(s)) => p.item(&format!("{w} ({s})")),
                    (Some(w), None) => p.item(&w),
                    _ => {}
                }
            }
        }
        p.notes(r);
        p
    }

    fn goal(&mut self, r: &Value) -> Page {
        let description = r.get("description").and_then(concept);
        let mut p = Page::new("Goal", description.as_deref());
        p.field("Goal", description.as_deref());
        p.field("Status", str_at(r, "lifecycleStatus"));
        p.field("Achievement", r.get("achievementStatus").and_then(concept));
        p.field("Start", choice(r, "start"));
        p.notes(r);
        p
    }
}

/// One rendered resource, before pages are numbered.
struct Rendered {
    patient: Option<String>,
    is_patient: bool,
    effective: Option<i64>,
    blocks: Vec<Block>,
}

fn render_document(
    input: &Input,
    limits: &Limits,
    deadline: Deadline,
) -> Result<ParsedDocument, ParseFailure> {
    let resources = Resources::collect(input);
    let mut renderer = Renderer {
        resources: &resources,
        limits,
        decoded: 0,
        attachment_notes: Vec::new(),
    };
    let mut read: BTreeMap<&str, usize> = BTreeMap::new();
    let mut skipped: BTreeMap<&str, usize> = BTreeMap::new();
    let mut rendered: Vec<Rendered> = Vec::new();
    // Patients in order of first appearance, with their names.
    let mut patients: Vec<(String, Option<String>)> = Vec::new();
    for (i, entry) in resources.entries.iter().enumerate() {
        if i.is_multiple_of(64) {
            deadline.check()?;
        }
        let kind = resource_type(entry.resource).unwrap_or("resource");
        let Some(page) = renderer.render(entry.resource) else {
            *skipped.entry(kind).or_default() += 1;
            continue;
        };
        let labelled = page.label.is_some();
        let blocks = page.sink.into_blocks();
        // A bare type name says nothing: such a resource is as good as unread.
        if blocks.len() < 2 && !labelled {
            *skipped.entry(kind).or_default() += 1;
            continue;
        }
        *read.entry(kind).or_default() += 1;
        let patient = resources.patient_of(*entry);
        let is_patient = kind == "Patient";
        if let Some(id) = &patient {
            let name = is_patient.then(|| patient_name(entry.resource)).flatten();
            match patients.iter_mut().find(|(known, _)| known == id) {
                Some(known) => {
                    if known.1.is_none() {
                        known.1 = name;
                    }
                }
                None => patients.push((id.clone(), name)),
            }
        }
        rendered.push(Rendered {
            patient,
            is_patient,
            effective: effective_of(entry.resource),
            blocks,
        });
    }
    if rendered.is_empty() {
        if skipped.is_empty() && input.broken_lines.is_empty() {
            return Err(ParseFailure::Empty);
        }
        let types: Vec<&str> = skipped.keys().copied().collect();
        return Err(ParseFailure::Unsupported {
            what: format!(
                "fhir resources of types sillok does not read ({})",
                types.join(", ")
            ),
        });
    }
    // Each patient's pages together, the Patient page first; file order
    // otherwise (a stable sort).
    let group = |r: &Rendered| match &r.patient {
        Some(id) => patients
            .iter()
            .position(|(p, _)| p == id)
            .unwrap_or(usize::MAX),
        None => usize::MAX,
    };
    rendered.sort_by_key(|r| (group(r), !r.is_patient));

    let one_patient = match patients.as_slice() {
        [(id, _)] => Some(id.clone()),
        _ => None,
    };
    let mut pages: Vec<ParsedPage> = Vec::new();
    let title = match resources.single {
        Some(kind) => {
            let label = rendered
                .first()
                .and_then(|r| r.blocks.first())
                .map(|b| b.text.clone())
                .unwrap_or_else(|| kind.to_owned());
            let notes = notes(
                &input.broken_lines,
                &skipped,
                &renderer.attachment_notes,
                resources.untyped,
            );
            if let Some(first) = rendered.first_mut() {
                for note in notes {
                    first.blocks.push(Block {
                        kind: BlockKind::Paragraph,
                        text: note,
                    });
                }
            }
            format!("FHIR {label}")
        }
        None => {
            let what = match input.shape {
                Shape::Ndjson => "FHIR NDJSON",
                Shape::Whole => "FHIR Bundle",
            };
            let who = match patients.as_slice() {
                [(_, Some(name))] => name.clone(),
                [_] => "1 patient".to_owned(),
                [] => format!("{} resources", rendered.len()),
                many => format!("{} patients", many.len()),
            };
            let summary = summary_page(
                what,
                &patients,
                &read,
                &skipped,
                &input.broken_lines,
                &renderer.attachment_notes,
                resources.untyped,
            );
            pages.push(ParsedPage {
                number: 1,
                blocks: summary,
                meta: PageMeta {
                    patient_id: one_patient,
                    ..PageMeta::default()
                },
            });
            format!("{what} — {who}")
        }
    };
    let total = pages.len() + rendered.len();
    if total > limits.max_pages as usize {
        return Err(ParseFailure::LimitExceeded {
            limit: "max_pages",
            max: u64::from(limits.max_pages),
        });
    }
    for r in rendered {
        pages.push(ParsedPage {
            number: pages.len() as u32 + 1,
            blocks: r.blocks,
            meta: PageMeta {
                patient_id: r.patient,
                effective: r.effective,
                ocr_confidence: None,
            },
        });
    }
    Ok(ParsedDocument {
        kind: DocKind::Fhir,
        title: Some(title),
        pages,
    })
}

/// `12 Observation, 3 Encounter` (most first).
fn counts(map: &BTreeMap<&str, usize>) -> String {
    let mut list: Vec<(&&str, &usize)> = map.iter().collect();
    list.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    list.iter()
        .map(|(kind, n)| format!("{n} {kind}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// What was not read, in sentences for the user.
fn notes(
    broken_lines: &[(usize, String)],
    skipped: &BTreeMap<&str, usize>,
    attachment_notes: &[String],
    untyped: usize,
) -> Vec<String> {
    let mut out = Vec::new();
    if !skipped.is_empty() {
        out.push(format!(
            "Not read: {} (resource types Sillok does not read).",
            counts(skipped)
        ));
    }
    if untyped > 0 {
        out.push(format!(
            "Not read: {untyped} entries without a resourceType."
        ));
    }
    if !broken_lines.is_empty() {
        let shown: Vec<String> = broken_lines
            .iter()
            .take(5)
            .map(|(n, why)| format!("line {n}: {why}"))
            .collect();
        let more = if broken_lines.len() > shown.len() {
            "; …"
        } else {
            ""
        };
        out.push(format!(
            "Lines that could not be read: {} ({}{more}).",
            broken_lines.len(),
            shown.join("; ")
        ));
    }
    let mut seen: Vec<&String> = Vec::new();
    for note in attachment_notes {
        if !seen.contains(&note) {
            seen.push(note);
            out.push(format!("Attachments: {note}."));
        }
    }
    out
}

fn summary_page(
    what: &str,
    patients: &[(String, Option<String>)],
    read: &BTreeMap<&str, usize>,
    skipped: &BTreeMap<&str, usize>,
    broken_lines: &[(usize, String)],
    attachment_notes: &[String],
    untyped: usize,
) -> Vec<Block> {
    let mut sink = BlockSink::default();
    sink.push(
        BlockKind::Heading { level: 1 },
        &format!("{what} — summary"),
    );
    if !patients.is_empty() {
        let shown: Vec<String> = patients
            .iter()
            .take(50)
            .map(|(id, name)| match name {
                Some(name) => format!("{name} (patient id {id})"),
                None => format!("patient id {id}"),
            })
            .collect();
        let more = if patients.len() > shown.len() {
            "; …"
        } else {
            ""
        };
        sink.push(
            BlockKind::Paragraph,
            &format!("Patients: {}{more}", shown.join("; ")),
        );
    }
    sink.push(BlockKind::Paragraph, &format!("Read: {}.", counts(read)));
    for note in notes(broken_lines, skipped, attachment_notes, untyped) {
        sink.push(BlockKind::Paragraph, &note);
    }
    sink.into_blocks()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::parse_bytes;

    type TestResult = Result<(), Box<dyn std::error::Error>>;

    fn parse(json: &str) -> Result<ParsedDocument, ParseFailure> {
        FhirParser.parse(json.as_bytes(), &Limits::default())
    }

    fn page_with<'d>(doc: &'d ParsedDocument, heading: &str) -> Option<&'d ParsedPage> {
        doc.pages
            .iter()
            .find(|p| p.blocks.first().is_some_and(|b| b.text == heading))
    }

    const BUNDLE: &str = r#"{
      "resourceType": "Bundle", "type": "collection",
      "entry": [
        {"fullUrl": "urn:uuid:aaaa-1111", "resource": {
          "resourceType": "Patient", "id": "p-123",
          "name": [{"use": "official", "given": ["Jin", "Ho"], "family": "Kim"}],
          "gender": "male", "birthDate": "1961-04-02",
          "identifier": [{"type": {"text": "Medical Record Number"}, "value": "MRN-889"}]}},
        {"fullUrl": "urn:uuid:bbbb-2222", "resource": {
          "resourceType": "Observation", "id": "o1", "status": "final",
          "code": {"coding": [{"system": "http://loinc.org", "code": "85354-9", "display": "Blood pressure panel"}], "text": "Blood pressure"},
          "subject": {"reference": "urn:uuid:aaaa-1111"},
          "effectiveDateTime": "2019-05-03T10:11:12+09:00",
          "component": [
            {"code": {"text": "Systolic blood pressure"}, "valueQuantity": {"value": 152, "unit": "mmHg"}},
            {"code": {"text": "Diastolic blood pressure"}, "valueQuantity": {"value": 91.0, "unit": "mmHg"}}]}},
        {"resource": {
          "resourceType": "Observation", "id": "o2", "status": "final",
          "code": {"text": "Hemoglobin A1c"},
          "subject": {"reference": "Patient/p-123"},
          "effectiveDateTime": "2020-01",
          "valueQuantity": {"value": 7.2, "unit": "%"},
          "referenceRange": [{"low": {"value": 4, "unit": "%"}, "high": {"value": 5.6, "unit": "%"}}]}},
        {"resource": {
          "resourceType": "Condition", "id": "c1",
          "clinicalStatus": {"coding": [{"code": "active"}]},
          "code": {"coding": [{"system": "http://snomed.info/sct", "code": "38341003", "display": "Hypertension"}]},
          "subject": {"reference": "Patient/p-123"}, "onsetDateTime": "2018-11-20"}},
        {"resource": {
          "resourceType": "MedicationRequest", "id": "m1", "status": "active", "intent": "order",
          "medicationCodeableConcept": {"text": "Amlodipine 5 MG Oral Tablet"},
          "subject": {"reference": "Patient/p-123"}, "authoredOn": "2019-05-03",
          "dosageInstruction": [{"timing": {"repeat": {"frequency": 1, "period": 1, "periodUnit": "d"}},
            "doseAndRate": [{"doseQuantity": {"value": 1, "unit": "tablet"}}]}]}},
        {"resource": {
          "resourceType": "Encounter", "id": "e1", "status": "finished",
          "class": {"code": "AMB"}, "type": [{"text": "Follow-up visit"}],
          "subject": {"reference": "Patient/p-123"},
          "period": {"start": "2019-05-03T09:00:00Z", "end": "2019-05-03T09:30:00Z"},
          "reasonCode": [{"text": "Hypertension"}]}},
        {"resource": {
          "resourceType": "DocumentReference", "id": "d1", "status": "current",
          "type": {"text": "Progress note"}, "subject": {"reference": "Patient/p-123"},
          "date": "2019-05-03T09:40:00Z",
          "content": [{"attachment": {"contentType": "text/plain; charset=utf-8",
            "data": "SGVhZGFjaGUgcmVzb2x2ZWQuCgrtmIjslZUg7JaR7Zi4Lg=="}}]}},
        {"resource": {"resourceType": "Claim", "id": "x1", "patient": {"reference": "Patient/p-123"}}},
        {"resource": {"resourceType": "Claim", "id": "x2"}},
        {"resource": {"resourceType": "ExplanationOfBenefit", "id": "x3"}},
        {"resource": {
          "resourceType": "Observation", "id": "o3", "status": "final",
          "code": {"text": "Body weight"}, "subject": {"reference": "Patient/other-7"},
          "effectiveDateTime": "2021-02-03", "valueQuantity": {"value": 70.5, "unit": "kg"}}}
      ]}"#;

    #[test]
    fn a_bundle_reads_as_one_page_per_resource_with_patient_and_date() -> TestResult {
        let doc = parse(BUNDLE)?;
        assert_eq!(doc.kind, DocKind::Fhir);
        assert_eq!(doc.title.as_deref(), Some("FHIR Bundle — 2 patients"));
        // Summary, then p-123's seven pages (Patient first), then other-7's.
        assert_eq!(doc.pages.len(), 9);
        let numbers: Vec<u32> = doc.pages.iter().map(|p| p.number).collect();
        assert_eq!(numbers, (1..=9).collect::<Vec<_>>());
        let summary = doc.pages[0].text();
        assert!(
            summary.contains("Jin Ho Kim (patient id p-123); patient id other-7"),
            "{summary}"
        );
        assert!(
            summary.contains("Not read: 2 Claim, 1 ExplanationOfBenefit"),
            "{summary}"
        );
        assert_eq!(doc.pages[0].meta.patient_id, None);

        let patient = &doc.pages[1];
        assert_eq!(patient.blocks[0].text, "Patient — Jin Ho Kim");
        assert_eq!(patient.meta.patient_id.as_deref(), Some("p-123"));
        assert_eq!(patient.meta.effective, None);
        let text = patient.text();
        for expected in [
            "Gender: male",
            "Birth date: 1961-04-02",
            "Identifiers: Medical Record Number MRN-889",
            "Patient id: p-123",
        ] {
            assert!(text.contains(expected), "{expected} in {text}");
        }

        // The urn:uuid subject resolves through the fullUrl to p-123.
        let bp = page_with(&doc, "Observation — Blood pressure").ok_or("no bp page")?;
        assert_eq!(bp.meta.patient_id.as_deref(), Some("p-123"));
        assert_eq!(bp.meta.effective, fhir_time("2019-05-03T01:11:12Z"));
        let text = bp.text();
        assert!(text.contains("Systolic blood pressure: 152 mmHg"), "{text}");
        assert!(text.contains("Diastolic blood pressure: 91 mmHg"), "{text}");
        assert!(text.contains("Code: LOINC 85354-9"), "{text}");
        assert!(bp.blocks[0].kind == BlockKind::Heading { level: 1 });

        let a1c = page_with(&doc, "Observation — Hemoglobin A1c").ok_or("no a1c")?;
        assert_eq!(a1c.meta.effective, fhir_time("2020-01-01"));
        assert!(a1c.text().contains("Hemoglobin A1c: 7.2 %"));
        assert!(a1c.text().contains("Reference range: 4 % – 5.6 %"));

        let condition = page_with(&doc, "Condition — Hypertension").ok_or("no condition")?;
        assert!(condition.text().contains("Clinical status: active"));
        assert!(condition.text().contains("Onset: 2018-11-20"));
        assert_eq!(condition.meta.effective, fhir_time("2018-11-20"));

        let med = page_with(&doc, "MedicationRequest — Amlodipine 5 MG Oral Tablet")
            .ok_or("no medication")?;
        assert!(
            med.text().contains("Dosage: dose 1 tablet; 1 time per day"),
            "{}",
            med.text()
        );
        assert!(med.text().contains("Status: active"));

        let visit = page_with(&doc, "Encounter — Follow-up visit").ok_or("no encounter")?;
        assert!(visit.text().contains("Class: ambulatory (AMB)"));
        assert!(visit.text().contains("Reason: Hypertension"));

        let note = page_with(&doc, "DocumentReference — Progress note").ok_or("no note")?;
        assert!(
            note.text().contains("Headache resolved."),
            "{}",
            note.text()
        );
        assert!(note.text().contains("혈압 양호."), "{}", note.text());

        let other = doc.pages.last().ok_or("no pages")?;
        assert_eq!(other.meta.patient_id.as_deref(), Some("other-7"));
        assert!(other.text().contains("Body weight: 70.5 kg"));
        Ok(())
    }

    #[test]
    fn a_single_resource_is_one_page_titled_by_it() -> TestResult {
        let doc = parse(
            r#"{"resourceType": "Observation", "code": {"text": "Glucose"},
                "subject": {"reference": "https://ehr.example/fhir/Patient/55/_history/3"},
                "issued": "2021-03-04T05:06:07.890Z", "valueQuantity": {"value": 5.4, "unit": "mmol/L", "comparator": "<"}}"#,
        )?;
        assert_eq!(doc.title.as_deref(), Some("FHIR Observation — Glucose"));
        assert_eq!(doc.pages.len(), 1);
        let page = &doc.pages[0];
        assert_eq!(page.meta.patient_id.as_deref(), Some("55"));
        assert_eq!(page.meta.effective, fhir_time("2021-03-04T05:06:07Z"));
        assert!(page.text().contains("Glucose: < 5.4 mmol/L"));
        Ok(())
    }

    #[test]
    fn deep_nesting_is_a_clear_failure_not_a_stack_overflow() {
        let depth = 100_000;
        let deep = format!(
            r#"{{"resourceType": "Bundle", "entry": {}{}}}"#,
            "[".repeat(depth),
            "]".repeat(depth)
        );
        let expected = Err(ParseFailure::LimitExceeded {
            limit: "json nesting depth",
            max: MAX_JSON_DEPTH as u64,
        });
        assert_eq!(parse(&deep), expected);
        // Objects too, and through detection on a thread of default size.
        let objects = format!(
            r#"{{"resourceType": "Observation", "x": {}1{}}}"#,
            r#"{"a":"#.repeat(depth),
            "}".repeat(depth)
        );
        assert_eq!(
            parse_bytes("deep.json", objects.as_bytes(), &Limits::default()),
            expected
        );
        // Brackets inside strings do not count.
        let in_string = format!(
            r#"{{"resourceType": "Observation", "code": {{"text": "{}"}}, "valueString": "x"}}"#,
            "[".repeat(1000)
        );
        assert!(parse(&in_string).is_ok());
        // A deep line in NDJSON costs that line only.
        let ndjson = format!(
            "{}\n{{\"resourceType\": \"Observation\", \"deep\": {}{}}}\n",
            r#"{"resourceType": "Condition", "code": {"text": "Asthma"}, "subject": {"reference": "Patient/9"}}"#,
            "[".repeat(depth),
            "]".repeat(depth)
        );
        let doc = parse(&ndjson);
        let text: String = doc
            .iter()
            .flat_map(|d| &d.pages)
            .map(ParsedPage::text)
            .collect();
        assert!(text.contains("Condition — Asthma"), "{doc:?}");
        assert!(
            text.contains("line 2: the document goes over the json nesting depth limit"),
            "{text}"
        );
    }

    #[test]
    fn ndjson_reads_every_good_line_and_lists_the_broken_one() -> TestResult {
        let ndjson = concat!(
            r#"{"resourceType": "Patient", "id": "9", "name": [{"text": "Lee Mi-na"}]}"#,
            "\n",
            r#"{"resourceType": "Condition", "code": {"text": "Asthma"}, "subject": {"reference": "Patient/9"}, "onsetDateTime": "2010-03-01"}"#,
            "\n",
            r#"{"resourceType": "Observation", "code": {"text": "Peak flow"}, "valueQuan"#,
            "\n\n",
            r#"{"resourceType": "Procedure", "code": {"text": "Spirometry"}, "subject": {"reference": "Patient/9"}, "performedDateTime": "2011-05-06"}"#,
            "\n",
        );
        let doc = parse(ndjson)?;
        assert_eq!(doc.title.as_deref(), Some("FHIR NDJSON — Lee Mi-na"));
        assert_eq!(doc.pages.len(), 4);
        let summary = doc.pages[0].text();
        assert!(
            summary.contains("Lines that could not be read: 1 (line 3: the json is cut off"),
            "{summary}"
        );
        assert_eq!(doc.pages[0].meta.patient_id.as_deref(), Some("9"));
        assert!(
            doc.pages
                .iter()
                .all(|p| p.meta.patient_id.as_deref() == Some("9"))
        );
        let spirometry = page_with(&doc, "Procedure — Spirometry").ok_or("no procedure")?;
        assert_eq!(spirometry.meta.effective, fhir_time("2011-05-06"));
        // Through detection by name too.
        let via_name = parse_bytes("export.ndjson", ndjson.as_bytes(), &Limits::default())?;
        assert_eq!(via_name, doc);
        // Nothing readable at all is a failure, not an empty document.
        let all_bad = "{\"resourceType\": \"Pat\n{\"resourceType\":\n";
        assert!(matches!(
            parse(all_bad),
            Err(ParseFailure::Malformed { .. })
        ));
        Ok(())
    }

    #[test]
    fn unknown_types_are_counted_and_only_unknown_is_unsupported() -> TestResult {
        let unknown = r#"{"resourceType": "Bundle", "entry": [
            {"resource": {"resourceType": "Claim"}}, {"resource": {"resourceType": "Coverage"}}]}"#;
        assert_eq!(
            parse(unknown),
            Err(ParseFailure::Unsupported {
                what: "fhir resources of types sillok does not read (Claim, Coverage)".into()
            })
        );
        assert_eq!(
            parse(r#"{"resourceType": "Bundle", "entry": []}"#),
            Err(ParseFailure::Empty)
        );
        assert!(matches!(
            parse(r#"{"resourceType": "Bundle", "entry": [ {"resource": "#),
            Err(ParseFailure::Malformed { .. })
        ));
        Ok(())
    }

    #[test]
    fn attachments_are_decoded_only_for_text_and_capped() -> TestResult {
        let html = "PGgxPk5vdGU8L2gxPjxwPkJQIDEyMC84MDwvcD4="; // <h1>Note</h1><p>BP 120/80</p>
        let big = "QUFB".repeat(MAX_ATTACHMENT_BYTES / 3 + 10); // "AAA"…
        let doc = parse(&format!(
            r#"{{"resourceType": "Bundle", "entry": [
              {{"resource": {{"resourceType": "DocumentReference", "type": {{"text": "Discharge"}},
                "content": [{{"attachment": {{"contentType": "text/html", "data": "{html}"}}}},
                             {{"attachment": {{"contentType": "application/pdf", "data": "JVBERi0=", "title": "scan"}}}}]}}}},
              {{"resource": {{"resourceType": "Binary", "contentType": "text/plain", "data": "{big}"}}}}]}}"#
        ))?;
        let note = page_with(&doc, "DocumentReference — Discharge").ok_or("no note")?;
        assert!(note.text().contains("BP 120/80"), "{}", note.text());
        assert!(
            note.text()
                .contains("Attachment: scan (application/pdf): not text, not read")
        );
        let binary = page_with(&doc, "Binary — text/plain").ok_or("no binary")?;
        assert!(binary.text().len() <= MAX_ATTACHMENT_BYTES + 100);
        assert!(doc.pages[0].text().contains("only its start is read"));
        Ok(())
    }

    #[test]
    fn references_and_ids() {
        assert_eq!(type_and_id("Patient/123"), Some(("Patient", "123")));
        assert_eq!(
            type_and_id("http://x/fhir/Patient/abc/_history/2"),
            Some(("Patient", "abc"))
        );
        assert_eq!(type_and_id("urn:uuid:1234"), None);
        assert_eq!(type_and_id("123"), None);
    }

    /// The Synthea bundles and NDJSON exports of `installer/fetch-fixtures.sh`.
    fn fixture(name: &str) -> Result<Vec<u8>, Box<dyn std::error::Error>> {
        let dir = std::env::var_os("SILLOK_FIXTURES").ok_or(
            "SILLOK_FIXTURES is not set: run installer/fetch-fixtures.sh and source installer/env.sh",
        )?;
        let path = std::path::Path::new(&dir).join("fhir").join(name);
        std::fs::read(&path).map_err(|e| {
            format!(
                "fixture {} is missing ({e}): run installer/fetch-fixtures.sh",
                path.display()
            )
            .into()
        })
    }

    #[test]
    fn synthea_bundles_read_fully() -> TestResult {
        let doc = parse_bytes("cfhir.json", &fixture("cfhir.json")?, &Limits::default())?;
        assert_eq!(doc.kind, DocKind::Fhir);
        assert_eq!(
            doc.title.as_deref(),
            Some("FHIR Bundle — Mr. Aaron697 Stiedemann542")
        );
        let patient = "adccf2c3-9dc4-4067-ba23-98982c4875da";
        assert!(
            doc.pages
                .iter()
                .all(|p| p.meta.patient_id.as_deref() == Some(patient))
        );
        // 374 observations, 33 reports, 28 encounters … each its own page;
        // claims and other types not read are counted on the summary.
        assert!(doc.pages.len() > 450, "{}", doc.pages.len());
        let summary = doc.pages[0].text();
        assert!(summary.contains("374 Observation"), "{summary}");
        assert!(summary.contains("38 Claim"), "{summary}");
        // Every page is dated but the summary, the Patient and Synthea's
        // Goals (which carry no date).
        let undated: Vec<&str> = doc.pages[1..]
            .iter()
            .filter(|p| p.meta.effective.is_none())
            .filter_map(|p| p.blocks.first().map(|b| b.text.as_str()))
            .filter(|h| !h.starts_with("Patient — ") && !h.starts_with("Goal — "))
            .collect();
        assert!(undated.is_empty(), "{undated:?}");
        let text: String = doc.pages.iter().map(|p| p.text() + "\n").collect();
        for expected in [
            "Observation — Blood Pressure",
            "Systolic Blood Pressure: ",
            " mm[Hg]",
            "Condition — Prediabetes",
            "MedicationRequest — Acetaminophen 325 MG Oral Tablet",
            "Immunization — Influenza, seasonal, injectable, preservative free",
            "Class: ambulatory (AMB)",
            "Tobacco smoking status NHIS: Never smoker",
        ] {
            assert!(text.contains(expected), "{expected}");
        }
        let a = parse_bytes("afhir.json", &fixture("afhir.json")?, &Limits::default())?;
        assert_eq!(
            a.title.as_deref(),
            Some("FHIR Bundle — Mr. Aaron697 Brekke496")
        );
        Ok(())
    }

    #[test]
    fn synthea_ndjson_exports_read_per_line() -> TestResult {
        let patients = parse_bytes(
            "Patient.ndjson",
            &fixture("Patient.ndjson")?,
            &Limits::default(),
        )?;
        assert_eq!(patients.title.as_deref(), Some("FHIR NDJSON — 25 patients"));
        assert_eq!(patients.pages.len(), 26);
        let procedures = fixture("Procedure.ndjson")?;
        let doc = parse_bytes("Procedure.ndjson", &procedures, &Limits::default())?;
        let lines = procedures
            .split(|&b| b == b'\n')
            .filter(|l| !l.is_empty())
            .count();
        assert_eq!(doc.pages.len(), lines + 1);
        assert!(
            doc.pages[1..]
                .iter()
                .all(|p| p.meta.patient_id.is_some() && p.meta.effective.is_some())
        );
        // STU3-style string statuses still read.
        let allergies = parse_bytes(
            "AllergyIntolerance.ndjson",
            &fixture("AllergyIntolerance.ndjson")?,
            &Limits::default(),
        )?;
        let text: String = allergies.pages.iter().map(|p| p.text() + "\n").collect();
        assert!(
            text.contains("AllergyIntolerance — Allergy to mould"),
            "{text}"
        );
        assert!(text.contains("Clinical status: active"), "{text}");
        Ok(())
    }
}
