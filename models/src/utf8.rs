//! Stateful UTF-8 decoding of a token stream.
//!
//! A token is a byte string and may end in the middle of a character (a Hangul
//! syllable is three bytes and byte-level vocabularies split it). The decoder
//! holds back an incomplete tail until the next token completes it, and turns
//! truly invalid bytes into U+FFFD instead of failing.

/// Incremental UTF-8 decoder for streamed token bytes.
#[derive(Debug, Default)]
pub struct Utf8Stream {
    pending: Vec<u8>,
}

impl Utf8Stream {
    /// Adds bytes and returns the text that is now complete (possibly empty).
    pub fn push(&mut self, bytes: &[u8]) -> String {
        self.pending.extend_from_slice(bytes);
        let mut out = String::new();
        loop {
            match std::str::from_utf8(&self.pending) {
                Ok(text) => {
                    out.push_str(text);
                    self.pending.clear();
                    return out;
                }
                Err(err) => {
                    let valid = err.valid_up_to();
                    out.push_str(&String::from_utf8_lossy(&self.pending[..valid]));
                    match err.error_len() {
                        // Incomplete character at the end: wait for more bytes.
                        None => {
                            self.pending.drain(..valid);
                            return out;
                        }
                        Some(bad) => {
                            out.push(char::REPLACEMENT_CHARACTER);
                            self.pending.drain(..valid + bad);
                        }
                    }
                }
            }
        }
    }

    /// Flushes what is left at the end of the stream (an unfinished character becomes U+FFFD).
    pub fn finish(&mut self) -> String {
        let rest = String::from_utf8_lossy(&self.pending).into_owned();
        self.pending.clear();
        rest
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hangul_split_across_tokens_is_reassembled() {
        let bytes = "고혈압 환자".as_bytes();
        let mut stream = Utf8Stream::default();
        let mut out = String::new();
        // One byte at a time: every syllable is split.
        for b in bytes {
            let piece = stream.push(&[*b]);
            assert!(!piece.contains(char::REPLACEMENT_CHARACTER));
            out.push_str(&piece);
        }
        out.push_str(&stream.finish());
        assert_eq!(out, "고혈압 환자");
    }

    #[test]
    fn invalid_bytes_become_replacement_and_decoding_goes_on() {
        let mut stream = Utf8Stream::default();
        let mut out = stream.push(b"a\xffb");
        out.push_str(&stream.push("혈".as_bytes()));
        assert_eq!(out, "a\u{fffd}b혈");
    }

    #[test]
    fn unfinished_character_at_the_end_is_flushed_as_replacement() {
        let mut stream = Utf8Stream::default();
        assert_eq!(stream.push(&"압".as_bytes()[..2]), "");
        assert_eq!(stream.finish(), "\u{fffd}");
    }
}
