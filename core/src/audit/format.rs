//! The audit trail's bytes on disk: records, the chain head and the purge
//! checkpoint, each one JSON object framed with its HMAC-SHA256
//! (`{…,"mac":"<64 hex>"}`), and the keys derived from the caller's key.
//! See `docs/audit-log.md`.

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::Sha256;

/// The format version written in every object.
pub(crate) const VERSION: u32 = 1;

/// The `prev` of the first record ever written.
pub(crate) const GENESIS: [u8; 32] = [0; 32];

/// What a MAC covers, so one kind of object can never pass for another.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Tag {
    Record,
    Head,
    Checkpoint,
}

impl Tag {
    fn bytes(self) -> &'static [u8] {
        match self {
            Tag::Record => b"sillok-audit/record\0",
            Tag::Head => b"sillok-audit/head\0",
            Tag::Checkpoint => b"sillok-audit/checkpoint\0",
        }
    }
}

/// The two keys derived from the caller's key: one for MACs, one for patient
/// pseudonyms (so a pseudonym never equals a MAC input's tag).
#[derive(Clone)]
pub(crate) struct Keys {
    mac: [u8; 32],
    pseudonym: [u8; 32],
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Keys(..)")
    }
}

fn hmac(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes keys of any length");
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().into()
}

impl Keys {
    pub(crate) fn derive(key: &[u8]) -> Self {
        Keys {
            mac: hmac(key, &[b"sillok-audit-v1/mac"]),
            pseudonym: hmac(key, &[b"sillok-audit-v1/pseudonym"]),
        }
    }

    pub(crate) fn mac(&self, tag: Tag, body: &[u8]) -> [u8; 32] {
        hmac(&self.mac, &[tag.bytes(), body])
    }

    /// Whether `mac_hex` is `body`'s MAC (compared in constant time).
    pub(crate) fn verify(&self, tag: Tag, body: &[u8], mac_hex: &str) -> bool {
        let Ok(expected) = hex::decode(mac_hex) else {
            return false;
        };
        let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(&self.mac) else {
            return false;
        };
        mac.update(tag.bytes());
        mac.update(body);
        mac.verify_slice(&expected).is_ok()
    }

    /// A patient id's pseudonym: `pt_` and 16 hex digits of its keyed hash.
    /// The same id always gives the same pseudonym under one key, so a
    /// reviewer can follow one patient without learning who it is.
    pub(crate) fn pseudonym(&self, patient_id: &str) -> String {
        let digest = hmac(&self.pseudonym, &[patient_id.trim().as_bytes()]);
        format!("pt_{}", hex::encode(&digest[..8]))
    }
}

/// `,"mac":"` + 64 hex digits + `"}`.
const MAC_SUFFIX_LEN: usize = 8 + 64 + 2;

/// Serialises `body` and frames it with its MAC: the MAC covers exactly the
/// bytes of the object without the `mac` member.
pub(crate) fn seal_object<T: Serialize>(keys: &Keys, tag: Tag, body: &T) -> (String, [u8; 32]) {
    // Serialising plain structs of strings, numbers and JSON values cannot fail.
    let json = serde_json::to_string(body).unwrap_or_else(|_| "{}".to_owned());
    let mac = keys.mac(tag, json.as_bytes());
    let mut framed = String::with_capacity(json.len() + MAC_SUFFIX_LEN);
    framed.push_str(&json[..json.len().saturating_sub(1)]);
    framed.push_str(",\"mac\":\"");
    framed.push_str(&hex::encode(mac));
    framed.push_str("\"}");
    (framed, mac)
}

/// Why a framed object could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Unframed<T> {
    /// MAC good, body parsed.
    Good(T, [u8; 32]),
    /// Framed, but the MAC does not match: altered. The body, when it still
    /// parses, says which record it claims to be.
    BadMac(Option<T>, [u8; 32]),
    /// Not a framed object at all.
    Unreadable,
}

/// Checks and parses one framed object.
pub(crate) fn open_object<T: for<'de> Deserialize<'de>>(
    keys: &Keys,
    tag: Tag,
    framed: &[u8],
) -> Unframed<T> {
    let Some(split) = framed.len().checked_sub(MAC_SUFFIX_LEN) else {
        return Unframed::Unreadable;
    };
    let (head, suffix) = framed.split_at(split);
    let Some(mac_hex) = suffix
        .strip_prefix(b",\"mac\":\"")
        .and_then(|s| s.strip_suffix(b"\"}"))
        .and_then(|s| std::str::from_utf8(s).ok())
    else {
        return Unframed::Unreadable;
    };
    let Ok(mac) = <[u8; 32]>::try_from(hex::decode(mac_hex).unwrap_or_default()) else {
        return Unframed::Unreadable;
    };
    let mut body = head.to_vec();
    body.push(b'}');
    let parsed = serde_json::from_slice::<T>(&body).ok();
    if keys.verify(tag, &body, mac_hex) {
        match parsed {
            Some(value) => Unframed::Good(value, mac),
            // Our own MAC on a body we cannot read: a newer format.
            None => Unframed::Unreadable,
        }
    } else {
        Unframed::BadMac(parsed, mac)
    }
}

/// One audit record, as written (everything but its MAC).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct RecordBody {
    pub v: u32,
    /// 1, 2, 3 … with no gaps, across purges.
    pub seq: u64,
    /// Milliseconds since the Unix epoch.
    pub ts: i64,
    /// `ts` as an ISO 8601 UTC time, for people reading the file.
    pub time: String,
    pub user: String,
    pub host: String,
    pub pid: u32,
    pub action: String,
    pub result: String,
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub objects: Map<String, Value>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub patients: Vec<String>,
    /// Names of the patient-data fields this record had, kept only sealed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub withheld: Vec<String>,
    /// Those fields sealed by the caller's sealer (absent: dropped).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sealed: Option<String>,
    /// The previous record's MAC (hex); [`GENESIS`] or the checkpoint's for
    /// the first.
    pub prev: String,
}

/// The chain head: the last record written, kept apart from the log so that
/// cutting records off the end of the log is noticed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct HeadBody {
    pub v: u32,
    pub seq: u64,
    /// That record's MAC (hex).
    pub head: String,
    pub ts: i64,
}

/// Where a purge left the chain: the last record it removed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct CheckpointBody {
    pub v: u32,
    /// The last removed record.
    pub seq: u64,
    /// Its MAC (hex): the `prev` of the first record kept.
    pub head: String,
    /// Records this purge removed.
    pub purged: u64,
    /// Records all purges together removed.
    pub purged_total: u64,
    /// Records older than this (ms since the epoch) were removed.
    pub before_ts: i64,
    /// When the purge ran.
    pub ts: i64,
    pub user: String,
    pub host: String,
}

/// Milliseconds since the Unix epoch as `2025-03-01T09:12:33.123Z`.
pub(crate) fn utc_iso_ms(ms: i64) -> String {
    let seconds = sillok_index::utc_iso(ms.div_euclid(1000));
    format!(
        "{}.{:03}Z",
        seconds.trim_end_matches('Z'),
        ms.rem_euclid(1000)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn framing_round_trips_and_catches_any_change() {
        let keys = Keys::derive(b"0123456789abcdef0123456789abcdef");
        let body = HeadBody {
            v: VERSION,
            seq: 7,
            head: "ab".repeat(32),
            ts: 1,
        };
        let (framed, mac) = seal_object(&keys, Tag::Head, &body);
        assert!(framed.starts_with("{\"v\":1,\"seq\":7,"), "{framed}");
        let value: serde_json::Value = serde_json::from_str(&framed).unwrap_or_default();
        assert_eq!(value["mac"], hex::encode(mac));
        assert_eq!(
            open_object::<HeadBody>(&keys, Tag::Head, framed.as_bytes()),
            Unframed::Good(body.clone(), mac)
        );
        // Another tag, another key, a changed byte: all refused.
        assert!(matches!(
            open_object::<HeadBody>(&keys, Tag::Checkpoint, framed.as_bytes()),
            Unframed::BadMac(Some(_), _)
        ));
        let other = Keys::derive(b"another key, just as long as one");
        assert!(matches!(
            open_object::<HeadBody>(&other, Tag::Head, framed.as_bytes()),
            Unframed::BadMac(..)
        ));
        let edited = framed.replacen("\"seq\":7", "\"seq\":8", 1);
        assert!(matches!(
            open_object::<HeadBody>(&keys, Tag::Head, edited.as_bytes()),
            Unframed::BadMac(Some(HeadBody { seq: 8, .. }), _)
        ));
        for bad in ["", "{}", "not json at all", &framed[..framed.len() - 3]] {
            assert_eq!(
                open_object::<HeadBody>(&keys, Tag::Head, bad.as_bytes()),
                Unframed::Unreadable,
                "{bad}"
            );
        }
    }

    #[test]
    fn pseudonyms_are_stable_and_keyed() {
        let keys = Keys::derive(b"k1k1k1k1k1k1k1k1");
        let other = Keys::derive(b"k2k2k2k2k2k2k2k2");
        let p = keys.pseudonym("PT-000123");
        assert_eq!(p, keys.pseudonym(" PT-000123 "));
        assert_ne!(p, keys.pseudonym("PT-000124"));
        assert_ne!(p, other.pseudonym("PT-000123"));
        assert!(p.starts_with("pt_") && p.len() == 19, "{p}");
    }

    #[test]
    fn times_in_utc() {
        assert_eq!(utc_iso_ms(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(utc_iso_ms(1_709_251_953_123), "2024-03-01T00:12:33.123Z");
    }
}
