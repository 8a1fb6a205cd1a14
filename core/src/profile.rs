//! Domain profiles: a system prompt, default collections, model and evidence
//! threshold for one kind of work. Three ship; users add or override their
//! own in `<data>/profiles.json` (a JSON array of profiles).

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::answer::gate::{SimilarityThresholds, StandingThresholds};
use crate::{Error, Result};

/// The profile used when none is named.
pub const DEFAULT_PROFILE: &str = "clinical";
/// The user's profile file in the data directory.
pub const PROFILES_FILE: &str = "profiles.json";

/// One domain profile.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Profile {
    /// Name used on the command line and in the app.
    pub name: String,
    /// What it is for.
    #[serde(default)]
    pub description: String,
    /// Instructions to the model, in English (models follow English instructions best).
    pub system_prompt: String,
    /// Collections searched when the question names none (all when empty).
    #[serde(default)]
    pub collections: Vec<String>,
    /// Chat model to use (the default chat model when absent).
    #[serde(default)]
    pub model: Option<String>,
    /// Share of the question's terms the best evidence must contain, 0–1;
    /// below it the answer is "not found" and the model is not asked.
    #[serde(default = "default_min_coverage")]
    pub min_coverage: f32,
    /// Cosine thresholds of the evidence gate per embedding model (catalogue
    /// name: cosines are not comparable between models; see
    /// [`crate::answer::gate`]). With no entry for the active model, coverage
    /// alone decides.
    #[serde(default = "default_min_similarity")]
    pub min_similarity: BTreeMap<String, SimilarityThresholds>,
    /// `ko` or `en` to always answer in that language; otherwise the question's.
    #[serde(default)]
    pub answer_language: Option<String>,
}

/// The IDF-weighted share of the question's terms (`Library::coverage`).
/// Measured on the first 60 Debian FAQ questions, evidence only (answer rate on
/// answerable / abstention on unanswerable): 0.4 → ko 75%/35%, en 90%/12%;
/// 0.5 → ko 63%/50%, en 73%/37%; 0.6 → ko 48%/62%, en 63%/50%. Lexical
/// coverage alone cannot meet both targets on this set (its FAQ entries share
/// most words); see the closing note of the grounded-answers issue.
fn default_min_coverage() -> f32 {
    0.5
}

/// The embedding model the similarity threshold was tuned for.
pub const TUNED_EMBEDDING_MODEL: &str = "multilingual-e5-small";

/// Cosines (for libraries too small for standing): tuned on the
/// even-numbered Debian FAQ ko questions, evidence only (answer rate on
/// answerable / abstention on unanswerable): coverage 0.5 alone 52%/56%;
/// covered and related 0.87 53%/62%; with close 0.92 too 56%/59% (close
/// 0.88: 80%/30%). Same-language paraphrases score about 0.88–0.93, English
/// questions over Korean text about 0.8, unrelated questions about 0.72.
///
/// Standing: tuned on the dev split of Debian FAQ ko and en (`eval answers
/// --split dev`, whole chapters withheld). The cosine gate reached at best
/// ko 62%/69%, en 63%/69% there; standing close 2.3 and related 2.1 with a
/// cosine floor of 0.84 give ko 72%/72%, en 81%/74% (without the floor ko
/// 74%/72%, en 81%/68%, but a question about nothing in a library passes
/// whenever one chunk is a little less far than the rest: the sample
/// library's "first-line antiretroviral regimen for HIV" stands 2.7 at
/// cosine 0.83). Stricter, close 2.6 and related 2.5 abstain on 90% and
/// answer ko 49%, en 66%. Median standing of the best evidence: answerable
/// ko 2.6, en 3.1; unanswerable ko 1.8, en 2.0.
fn default_min_similarity() -> BTreeMap<String, SimilarityThresholds> {
    BTreeMap::from([(
        TUNED_EMBEDDING_MODEL.to_owned(),
        SimilarityThresholds {
            close: 0.92,
            related: 0.87,
            standing: Some(StandingThresholds {
                close: 2.3,
                related: 2.1,
                min_cosine: 0.84,
            }),
        },
    )])
}

const GROUNDING: &str = "Answer ONLY from the numbered sources below. After every sentence, \
cite the sources it comes from as [1], [2]. Copy numbers, doses, units and dates exactly as the \
sources give them. If the sources do not answer the question, say that the documents do not \
contain the answer. Never use outside knowledge.";

/// Largest standing threshold a profile may set (standard deviations).
const MAX_STANDING: f32 = 20.0;

/// The profiles that ship with Sillok.
pub fn built_in() -> Vec<Profile> {
    vec![
        Profile {
            name: "clinical".into(),
            description: "Patient records and clinical guidelines (환자 기록 · 진료 지침)".into(),
            system_prompt: format!(
                "You are Sillok, a clinical documentation assistant for physicians and nurses. \
                 {GROUNDING} Keep patient identifiers as written; do not speculate about diagnoses \
                 the sources do not state."
            ),
            collections: Vec::new(),
            model: None,
            min_coverage: default_min_coverage(),
            min_similarity: default_min_similarity(),
            answer_language: None,
        },
        Profile {
            name: "bio-research".into(),
            description: "Biomedical papers and abstracts".into(),
            system_prompt: format!(
                "You are Sillok, a research assistant for biomedical scientists. {GROUNDING} \
                 Distinguish findings from hypotheses as the sources do."
            ),
            collections: Vec::new(),
            model: None,
            min_coverage: default_min_coverage(),
            min_similarity: default_min_similarity(),
            answer_language: None,
        },
        Profile {
            name: "korean-medicine".into(),
            description: "Korean medicine (한의학): prescriptions, herbs, acupuncture".into(),
            system_prompt: format!(
                "You are Sillok, an assistant for Korean medicine (한의학) practitioners. \
                 {GROUNDING} Give herb and prescription names (처방명, 약재명) exactly as the \
                 sources write them, with Hanja where the sources give it."
            ),
            collections: Vec::new(),
            model: None,
            min_coverage: default_min_coverage(),
            min_similarity: default_min_similarity(),
            answer_language: Some("ko".into()),
        },
    ]
}

/// The built-in profiles, overridden or extended by `<data_dir>/profiles.json`.
///
/// # Errors
///
/// [`Error::Profiles`] when the file exists but cannot be read or parsed.
pub fn load(data_dir: &Path) -> Result<Vec<Profile>> {
    let path = data_dir.join(PROFILES_FILE);
    let mut profiles = built_in();
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(profiles),
        Err(e) => {
            return Err(Error::Profiles {
                path,
                reason: e.to_string(),
            });
        }
    };
    let users: Vec<Profile> = serde_json::from_str(&text).map_err(|e| Error::Profiles {
        path: path.clone(),
        reason: e.to_string(),
    })?;
    for profile in users {
        if !(0.0..=1.0).contains(&profile.min_coverage) {
            return Err(Error::Profiles {
                path,
                reason: format!("{}: min_coverage must be between 0 and 1", profile.name),
            });
        }
        if let Some((model, _)) = profile.min_similarity.iter().find(|(_, v)| {
            let standing_ok = v.standing.is_none_or(|s| {
                [s.close, s.related]
                    .iter()
                    .all(|x| (-MAX_STANDING..=MAX_STANDING).contains(x))
                    && (-1.0..=1.0).contains(&s.min_cosine)
            });
            !standing_ok
                || ![v.close, v.related]
                    .iter()
                    .all(|x| (-1.0..=1.0).contains(x))
        }) {
            return Err(Error::Profiles {
                path,
                reason: format!(
                    "{}: min_similarity for {model} must be cosines between -1 and 1 \
                     (standing: between -{MAX_STANDING} and {MAX_STANDING})",
                    profile.name
                ),
            });
        }
        match profiles.iter_mut().find(|p| p.name == profile.name) {
            Some(existing) => *existing = profile,
            None => profiles.push(profile),
        }
    }
    Ok(profiles)
}

/// The named profile (or the default one).
///
/// # Errors
///
/// [`Error::UnknownProfile`], or as [`load`].
pub fn find(data_dir: &Path, name: Option<&str>) -> Result<Profile> {
    let name = name.unwrap_or(DEFAULT_PROFILE);
    let profiles = load(data_dir)?;
    let known: Vec<String> = profiles.iter().map(|p| p.name.clone()).collect();
    profiles
        .into_iter()
        .find(|p| p.name == name)
        .ok_or_else(|| Error::UnknownProfile {
            name: name.to_owned(),
            known: known.join(", "),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    type TestResult = std::result::Result<(), Box<dyn std::error::Error>>;

    #[test]
    fn three_profiles_ship_and_users_override_or_add() -> TestResult {
        let dir = tempfile::tempdir()?;
        assert_eq!(load(dir.path())?.len(), 3);
        assert_eq!(find(dir.path(), None)?.name, "clinical");
        std::fs::write(
            dir.path().join(PROFILES_FILE),
            r#"[{"name": "clinical", "system_prompt": "custom", "min_coverage": 0.7},
                {"name": "nursing", "system_prompt": "nurses", "collections": ["wards"]}]"#,
        )?;
        let clinical = find(dir.path(), Some("clinical"))?;
        assert_eq!(clinical.system_prompt, "custom");
        assert!((clinical.min_coverage - 0.7).abs() < 1e-6);
        let nursing = find(dir.path(), Some("nursing"))?;
        assert_eq!(nursing.collections, ["wards"]);
        assert!((nursing.min_coverage - default_min_coverage()).abs() < 1e-6);
        assert!(matches!(
            find(dir.path(), Some("dentistry")),
            Err(Error::UnknownProfile { .. })
        ));
        Ok(())
    }

    #[test]
    fn a_broken_profile_file_is_a_clear_error() -> TestResult {
        let dir = tempfile::tempdir()?;
        std::fs::write(dir.path().join(PROFILES_FILE), "[{not json")?;
        let err = load(dir.path()).err().ok_or("accepted")?;
        assert!(err.to_string().contains(PROFILES_FILE), "{err}");
        std::fs::write(
            dir.path().join(PROFILES_FILE),
            r#"[{"name": "x", "system_prompt": "y", "min_coverage": 3}]"#,
        )?;
        assert!(load(dir.path()).is_err());
        Ok(())
    }
}
