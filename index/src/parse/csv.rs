//! CSV and TSV through the `csv` crate: the first row is the header and every
//! later row becomes one table-row block `"header1: value1; header2: value2"`,
//! so any chunk holding a row also says what its values are. Ragged rows,
//! quoted newlines and Korean CP949 files (via the shared text decoder) are
//! handled.

use super::text::decode;
use super::{
    BlockKind, BlockSink, Deadline, DocKind, Limits, ParseFailure, ParsedDocument, Parser,
    labelled_row,
};

/// Reads `.csv` (`kind` [`DocKind::Csv`]) or `.tsv` ([`DocKind::Tsv`]) files.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CsvParser {
    pub(crate) kind: DocKind,
}

impl Parser for CsvParser {
    fn kind(&self) -> DocKind {
        self.kind
    }

    fn parse(&self, bytes: &[u8], limits: &Limits) -> Result<ParsedDocument, ParseFailure> {
        if bytes.is_empty() {
            return Err(ParseFailure::Empty);
        }
        let deadline = Deadline::new(limits);
        let text = decode(bytes);
        // Quoting stays on for TSV too: spreadsheet exports quote cells that hold
        // tabs or newlines.
        let mut reader = ::csv::ReaderBuilder::new()
            .delimiter(if self.kind == DocKind::Tsv {
                b'\t'
            } else {
                b','
            })
            .has_headers(false)
            .flexible(true)
            .from_reader(text.as_bytes());
        let mut sink = BlockSink::default();
        let mut header: Option<Vec<String>> = None;
        let mut record = ::csv::StringRecord::new();
        let mut rows = 0usize;
        loop {
            rows += 1;
            if rows % 1024 == 1 {
                deadline.check()?;
            }
            match reader.read_record(&mut record) {
                Ok(true) => {}
                Ok(false) => break,
                // The input is already valid UTF-8 and the reader is flexible, so
                // this is an I/O-level surprise; report it rather than guess.
                Err(e) => {
                    return Err(ParseFailure::Malformed {
                        detail: format!("unreadable {} row: {e}", self.kind),
                    });
                }
            }
            let cells: Vec<String> = record.iter().map(|c| c.trim().to_owned()).collect();
            if cells.iter().all(String::is_empty) {
                continue;
            }
            match &header {
                None => header = Some(cells),
                Some(names) => sink.push(BlockKind::TableRow, &labelled_row(names, &cells)),
            }
        }
        // A file with only a header row still has that text to find.
        if sink.is_empty()
            && let Some(names) = header
        {
            sink.push(BlockKind::TableRow, &names.join(" | "));
        }
        Ok(ParsedDocument {
            kind: self.kind,
            title: None,
            pages: sink.into_single_page()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(kind: DocKind, bytes: &[u8]) -> Result<Vec<String>, ParseFailure> {
        let doc = CsvParser { kind }.parse(bytes, &Limits::default())?;
        assert_eq!(doc.kind, kind);
        Ok(doc.pages[0]
            .blocks
            .iter()
            .inspect(|b| assert_eq!(b.kind, BlockKind::TableRow))
            .map(|b| b.text.clone())
            .collect())
    }

    #[test]
    fn rows_carry_their_header() -> Result<(), ParseFailure> {
        let src = "환자,진단,목표\n\
                   김철수,고혈압,\"고혈압 환자의 혈압 목표는 130/80 mmHg\"\n\
                   Lee,\"Type 2\ndiabetes\",\"HbA1c < 7%, \"\"strict\"\"\"\n\
                   \n\
                   Park,short\n\
                   Choi,a,b,extra\n";
        assert_eq!(
            rows(DocKind::Csv, src.as_bytes())?,
            [
                "환자: 김철수; 진단: 고혈압; 목표: 고혈압 환자의 혈압 목표는 130/80 mmHg",
                "환자: Lee; 진단: Type 2\ndiabetes; 목표: HbA1c < 7%, \"strict\"",
                "환자: Park; 진단: short",
                "환자: Choi; 진단: a; 목표: b; column 4: extra",
            ]
        );
        Ok(())
    }

    #[test]
    fn tsv_splits_on_tabs() -> Result<(), ParseFailure> {
        assert_eq!(
            rows(
                DocKind::Tsv,
                "name\tdose, daily\n암로디핀\t5 mg, once\n".as_bytes()
            )?,
            ["name: 암로디핀; dose, daily: 5 mg, once"]
        );
        Ok(())
    }

    #[test]
    fn cp949_csv_is_decoded() -> Result<(), ParseFailure> {
        let (bytes, _, _) = encoding_rs::EUC_KR.encode("약물,용량\n암로디핀,5 mg\n");
        assert_eq!(rows(DocKind::Csv, &bytes)?, ["약물: 암로디핀; 용량: 5 mg"]);
        Ok(())
    }

    #[test]
    fn header_only_and_blank() -> Result<(), ParseFailure> {
        assert_eq!(rows(DocKind::Csv, b"a,b\n")?, ["a | b"]);
        assert_eq!(
            CsvParser { kind: DocKind::Csv }.parse(b",,\n , \n", &Limits::default()),
            Err(ParseFailure::Empty)
        );
        Ok(())
    }

    #[test]
    fn unterminated_quote_is_not_a_failure() -> Result<(), ParseFailure> {
        assert_eq!(
            rows(DocKind::Csv, b"a,b\n1,\"open quote\n")?,
            ["a: 1; b: open quote"]
        );
        Ok(())
    }
}
