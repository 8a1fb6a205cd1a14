//! A patient's timeline: every indexed chunk of one patient's clinical
//! records (FHIR resources, C-CDA sections), oldest first, with its
//! provenance. Owns only the query and the ordering; the patient id and
//! effective time come from the parsers ([`crate::PageMeta`]) through the
//! index fields `patient_id` and `effective`.

use std::ops::Range;

use tantivy::TantivyDocument;
use tantivy::Term;
use tantivy::collector::DocSetCollector;
use tantivy::query::{BooleanQuery, Occur, Query, TermQuery};
use tantivy::schema::{IndexRecordOption, Value};
use tantivy::tokenizer::TokenStream;

use crate::Result;
use crate::library::Library;
use crate::search::{SearchRequest, filter_clauses};

/// One chunk of a patient's record, where it comes from and when it happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimelineEntry {
    /// When the record took effect, seconds since the epoch (UTC); `None`
    /// for undated records (demographics, summaries).
    pub effective: Option<i64>,
    /// Collection.
    pub collection: String,
    /// File path.
    pub path: String,
    /// Document title.
    pub title: String,
    /// Page (1-based): for FHIR one resource, for C-CDA one section.
    pub page: u32,
    /// Enclosing headings, joined with " > " (e.g. `Observation — Glucose`).
    pub headings: String,
    /// The chunk text.
    pub text: String,
    /// Document type (`fhir`, `ccda` …).
    pub doc_type: String,
    /// Chunk number in the document.
    pub chunk_index: u64,
    /// Character span of the chunk in the page text.
    pub span: Range<usize>,
}

impl TimelineEntry {
    /// The effective time as an ISO 8601 UTC timestamp
    /// (`2019-05-03T01:11:12Z`), for display.
    pub fn effective_utc(&self) -> Option<String> {
        self.effective.map(crate::parse::clinical::utc_iso)
    }
}

impl Library {
    /// Every chunk of `patient_id`'s records in `collections` (all when
    /// empty): undated entries first (demographics, document summaries),
    /// then oldest to newest; ties in document, page and chunk order.
    ///
    /// The id is matched exactly, as the records spell it. The whole
    /// timeline is returned; a patient's records are thousands of chunks,
    /// not millions.
    ///
    /// # Errors
    ///
    /// Index errors.
    pub fn patient_timeline(
        &self,
        patient_id: &str,
        collections: &[String],
    ) -> Result<Vec<TimelineEntry>> {
        let (_, reader, f) = self.parts();
        let searcher = reader.searcher();
        let request = SearchRequest {
            patient: Some(patient_id.to_owned()),
            collections: collections.to_vec(),
            ..SearchRequest::default()
        };
        let clauses: Vec<(Occur, Box<dyn Query>)> = filter_clauses(f, &request);
        let addresses = searcher.search(&BooleanQuery::new(clauses), &DocSetCollector)?;
        let mut entries = Vec::with_capacity(addresses.len());
        for address in addresses {
            let doc: TantivyDocument = searcher.doc(address)?;
            let text_of = |field| {
                doc.get_first(field)
                    .and_then(|v| v.as_str())
                    .unwrap_or_default()
                    .to_owned()
            };
            let u64_of = |field| doc.get_first(field).and_then(|v| v.as_u64()).unwrap_or(0);
            entries.push(TimelineEntry {
                effective: doc.get_first(f.effective).and_then(|v| v.as_i64()),
                collection: text_of(f.collection),
                path: text_of(f.path),
                title: text_of(f.title),
                page: u32::try_from(u64_of(f.page)).unwrap_or(0),
                headings: text_of(f.headings),
                text: text_of(f.text),
                doc_type: text_of(f.doc_type),
                chunk_index: u64_of(f.chunk_index),
                span: usize::try_from(u64_of(f.span_start)).unwrap_or(0)
                    ..usize::try_from(u64_of(f.span_end)).unwrap_or(0),
            });
        }
        entries.sort_by(|a, b| {
            (a.effective, &a.path, a.page, a.chunk_index).cmp(&(
                b.effective,
                &b.path,
                b.page,
                b.chunk_index,
            ))
        });
        Ok(entries)
    }

    /// The patients of the library's FHIR records with the names their
    /// Patient resources give, read back from the Patient pages the FHIR
    /// reader writes (`Patient — <name>` heading, `Other names: a; b`) —
    /// so that names can be masked as PHI. One entry per patient id, the
    /// official name first.
    ///
    /// # Errors
    ///
    /// Index errors.
    pub fn patient_names(&self) -> Result<Vec<PatientNames>> {
        let (index, reader, f) = self.parts();
        let searcher = reader.searcher();
        // FHIR chunks whose headings hold the word "Patient", as analysed.
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = vec![(
            Occur::Must,
            Box::new(TermQuery::new(
                Term::from_field_text(f.doc_type, "fhir"),
                IndexRecordOption::Basic,
            )),
        )];
        let mut analyzer = index.tokenizer_for_field(f.headings_en)?;
        analyzer.token_stream("Patient").process(&mut |token| {
            clauses.push((
                Occur::Must,
                Box::new(TermQuery::new(
                    Term::from_field_text(f.headings_en, &token.text),
                    IndexRecordOption::Basic,
                )),
            ));
        });
        let addresses = searcher.search(&BooleanQuery::new(clauses), &DocSetCollector)?;
        let mut patients: Vec<PatientNames> = Vec::new();
        for address in addresses {
            let doc: TantivyDocument = searcher.doc(address)?;
            let text_of = |field| {
                doc.get_first(field)
                    .and_then(|v| v.as_str())
                    .unwrap_or_default()
            };
            let Some(name) = text_of(f.headings)
                .split(" > ")
                .next()
                .and_then(|h| h.strip_prefix("Patient — "))
            else {
                continue;
            };
            let patient_id = text_of(f.patient_id);
            if patient_id.is_empty() {
                continue;
            }
            let others = text_of(f.text)
                .lines()
                .filter_map(|l| l.trim().strip_prefix("Other names: "))
                .flat_map(|l| l.split("; "));
            let entry = match patients.iter_mut().position(|p| p.patient_id == patient_id) {
                Some(i) => &mut patients[i],
                None => {
                    patients.push(PatientNames {
                        patient_id: patient_id.to_owned(),
                        names: Vec::new(),
                    });
                    let last = patients.len() - 1;
                    &mut patients[last]
                }
            };
            for name in std::iter::once(name).chain(others) {
                let name = name.trim();
                if !name.is_empty() && !entry.names.iter().any(|n| n == name) {
                    entry.names.push(name.to_owned());
                }
            }
        }
        patients.sort_by(|a, b| a.patient_id.cmp(&b.patient_id));
        Ok(patients)
    }
}

/// A patient as the library's FHIR Patient resources name them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatientNames {
    /// `Patient.id`.
    pub patient_id: String,
    /// The names given, the official one first.
    pub names: Vec<String>,
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::library::IngestSettings;
    use crate::test_support::chunk_tokenizer;
    use crate::{Library, SearchRequest, TokenCounter};

    type TestResult = std::result::Result<(), Box<dyn std::error::Error>>;

    const BUNDLE: &str = r#"{"resourceType": "Bundle", "type": "collection", "entry": [
      {"fullUrl": "urn:uuid:p-1", "resource": {"resourceType": "Patient", "id": "p-1",
        "name": [{"text": "Kim Jin-ho"}], "gender": "male", "birthDate": "1961-04-02"}},
      {"resource": {"resourceType": "Observation", "code": {"text": "Glucose"},
        "subject": {"reference": "urn:uuid:p-1"}, "effectiveDateTime": "2021-06-01",
        "valueQuantity": {"value": 131, "unit": "mg/dL"}}},
      {"resource": {"resourceType": "Observation", "code": {"text": "Glucose"},
        "subject": {"reference": "urn:uuid:p-1"}, "effectiveDateTime": "2019-02-10",
        "valueQuantity": {"value": 104, "unit": "mg/dL"}}},
      {"resource": {"resourceType": "Condition", "code": {"text": "Type 2 diabetes"},
        "subject": {"reference": "urn:uuid:p-1"}, "onsetDateTime": "2020-03"}},
      {"resource": {"resourceType": "Observation", "code": {"text": "Glucose"},
        "subject": {"reference": "Patient/p-2"}, "effectiveDateTime": "2022-01-01",
        "valueQuantity": {"value": 88, "unit": "mg/dL"}}}
    ]}"#;

    const CCDA: &str = r#"<?xml version="1.0"?>
<ClinicalDocument xmlns="urn:hl7-org:v3"><title>Discharge summary</title>
  <effectiveTime value="20180105"/>
  <recordTarget><patientRole><id root="1.2.3" extension="p-2"/></patientRole></recordTarget>
  <component><structuredBody><component><section><title>Results</title>
    <text><paragraph>Glucose 97 mg/dL on admission.</paragraph></text>
  </section></component></structuredBody></component>
</ClinicalDocument>"#;

    fn library(dir: &Path) -> Result<Library, Box<dyn std::error::Error>> {
        let docs = dir.join("docs");
        std::fs::create_dir(&docs)?;
        std::fs::write(docs.join("bundle.json"), BUNDLE)?;
        std::fs::write(docs.join("summary.xml"), CCDA)?;
        std::fs::write(docs.join("note.txt"), "Glucose meter instructions.")?;
        let library = Library::open(&dir.join("library"))?;
        {
            let counter = TokenCounter::from_file(&chunk_tokenizer())?;
            let mut writer = library.writer(counter, IngestSettings::default())?;
            let report = writer.ingest("clinic", &[docs], &mut |_| {})?;
            assert_eq!(report.failed, 0);
        }
        library.reload()?;
        Ok(library)
    }

    fn day(date: &str) -> Option<i64> {
        crate::parse::clinical::fhir_time(date)
    }

    #[test]
    fn patient_names_come_from_fhir_patient_pages() -> TestResult {
        let data = tempfile::tempdir()?;
        let library = library(data.path())?;
        let names = library.patient_names()?;
        assert_eq!(
            names,
            [crate::timeline::PatientNames {
                patient_id: "p-1".into(),
                names: vec!["Kim Jin-ho".into()],
            }]
        );
        Ok(())
    }

    #[test]
    fn search_filters_by_patient_and_effective_time() -> TestResult {
        let data = tempfile::tempdir()?;
        let library = library(data.path())?;
        let search = |patient: Option<&str>, after: Option<&str>, before: Option<&str>| {
            library.search(&SearchRequest {
                query: "glucose".into(),
                patient: patient.map(str::to_owned),
                effective_after: after.and_then(day),
                effective_before: before.and_then(day),
                limit: 20,
                ..Default::default()
            })
        };
        let all = search(None, None, None)?.hits;
        assert!(all.iter().any(|h| h.path.ends_with("note.txt")));

        let p1 = search(Some("p-1"), None, None)?.hits;
        assert_eq!(p1.len(), 2, "{p1:#?}");
        assert!(p1.iter().all(|h| h.patient_id.as_deref() == Some("p-1")));
        assert!(p1.iter().all(|h| h.path.ends_with("bundle.json")));

        // p-2 has records in both formats.
        let p2 = search(Some("p-2"), None, None)?.hits;
        let mut kinds: Vec<&str> = p2.iter().map(|h| h.doc_type.as_str()).collect();
        kinds.sort_unstable();
        assert_eq!(kinds, ["ccda", "fhir"]);

        let recent = search(Some("p-1"), Some("2020-01-01"), None)?.hits;
        assert_eq!(recent.len(), 1);
        assert!(recent[0].text.contains("131 mg/dL"), "{}", recent[0].text);
        assert_eq!(recent[0].effective, day("2021-06-01"));
        let early = search(None, None, Some("2019-02-10"))?.hits;
        assert_eq!(early.len(), 1, "{early:#?}");
        assert!(early[0].path.ends_with("summary.xml"));
        // The bound is inclusive below, exclusive above; undated text is out.
        let on_the_day = search(None, Some("2019-02-10"), Some("2019-02-11"))?.hits;
        assert_eq!(on_the_day.len(), 1);
        assert!(on_the_day[0].text.contains("104 mg/dL"));

        assert!(search(Some("p-3"), None, None)?.hits.is_empty());
        assert!(
            search(Some("p-"), None, None)?.hits.is_empty(),
            "exact ids only"
        );
        Ok(())
    }

    #[test]
    fn the_timeline_is_one_patients_records_oldest_first() -> TestResult {
        let data = tempfile::tempdir()?;
        let library = library(data.path())?;
        let timeline = library.patient_timeline("p-1", &[])?;
        let dates: Vec<Option<i64>> = timeline.iter().map(|e| e.effective).collect();
        // The Patient page is undated: first. (The bundle's summary page
        // names two patients, so it belongs to neither.)
        assert_eq!(
            dates,
            [
                None,
                day("2019-02-10"),
                day("2020-03-01"),
                day("2021-06-01")
            ]
        );
        assert!(timeline.iter().all(|e| e.doc_type == "fhir"));
        assert!(timeline[0].text.contains("Birth date: 1961-04-02"));
        assert!(timeline[1].text.contains("104 mg/dL"));
        assert_eq!(timeline[2].headings, "Condition — Type 2 diabetes");
        assert!(
            timeline
                .iter()
                .all(|e| e.title == "FHIR Bundle — 2 patients")
        );

        let p2 = library.patient_timeline("p-2", &[])?;
        assert_eq!(p2.len(), 3, "{p2:#?}");
        assert_eq!(p2[0].effective, day("2018-01-05"));
        assert!(p2[0].path.ends_with("summary.xml"));
        assert!(p2[2].text.contains("88 mg/dL"));

        assert!(
            library
                .patient_timeline("p-1", &["other".into()])?
                .is_empty()
        );
        assert_eq!(
            library.patient_timeline("p-1", &["clinic".into()])?.len(),
            4
        );
        Ok(())
    }
}
