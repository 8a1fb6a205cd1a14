//! Dictionary-free Korean stemming: one stem per eojeol (a run of Hangul
//! syllables), by stripping particles and endings and reducing light verbs.
//!
//! The rule and the tables are exactly those of the study in
//! `bench/analyzers/` (`compare_ko_strip.py`, variant `strip_lv`; the flat
//! suffix list with each suffix's minimum stem is `suffixes.txt`, which a test
//! compares with the table built here). On the debfaq_ko set it matched a
//! MeCab-ko morpheme analyzer and beat Hangul bigrams; see `RESULTS.md` there.
//!
//! 1. **Suffix strip**: the longest listed suffix is removed (one pass; stacked
//!    particles such as 에서는 / 들에게 are listed), only if the stem left has at
//!    least *min* syllables: 2 for the one-syllable particles that also end many
//!    nouns (이 가 의 도 만 과 로 나 들 께: 국가, 정의, 결과, 함께 stay whole), 1 for
//!    every other suffix, 0 when the eojeol is glued to a preceding ASCII letter
//!    or digit (`FAQ는`, `apt에서`: a run that is only a particle vanishes).
//!    `ㅂ니다`/`ㅂ니까` are handled on jamo: 설치합니다 → 설치하, 됩니다 → 되.
//! 2. **Light verb**: a stem (else the eojeol) X + 하다/되다/시키다 form + short
//!    ending, with X of at least 2 syllables, becomes X: 진단하여 → 진단,
//!    설치된 → 설치, 설치했습니다 → 설치. One-syllable X is left alone (대하여).
//!
//! Only Hangul syllables (U+AC00..=U+D7A3) are handled here; the tokenizers in
//! the parent module decide what an eojeol is and what is done with the rest.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::sync::LazyLock;

/// Case particles (격조사).
const CASE: &[&str] = &[
    "이",
    "가",
    "을",
    "를",
    "의",
    "에",
    "에서",
    "에게",
    "에게서",
    "께",
    "께서",
    "한테",
    "한테서",
    "로",
    "으로",
    "로서",
    "으로서",
    "로써",
    "으로써",
    "와",
    "과",
    "랑",
    "이랑",
];
/// Auxiliary particles (보조사). Bare 든/이든 are left out: 모든, 만든.
const AUX: &[&str] = &[
    "은",
    "는",
    "도",
    "만",
    "까지",
    "부터",
    "조차",
    "마저",
    "마다",
    "밖에",
    "처럼",
    "보다",
    "만큼",
    "뿐",
    "이나",
    "나",
    "이라도",
    "라도",
    "이든지",
    "든지",
];
/// Particles that take one of [`STACK_TAIL`] after them (에서는, 로도, 까지의 …).
const STACK_HEAD: &[&str] = &[
    "에",
    "에서",
    "에게",
    "에게서",
    "께",
    "한테",
    "로",
    "으로",
    "로서",
    "으로서",
    "와",
    "과",
    "까지",
    "부터",
    "보다",
];
/// The particles stacked after [`STACK_HEAD`].
const STACK_TAIL: &[&str] = &["는", "도", "만", "의"];
/// 만/뿐 followed by a case particle.
const ONLY: &[&str] = &["만은", "만을", "만이", "만의", "만으로", "뿐만", "뿐이다"];
/// Plural 들, listed alone and before every particle above.
const PLURAL: &str = "들";
/// Forms of the copula 이다. Bare 인/일 are left out: 도메인, 로그인, 파일.
const COPULA: &[&str] = &[
    "이다",
    "입니다",
    "입니까",
    "이며",
    "이고",
    "이지만",
    "이면",
    "이라면",
    "이라",
    "이라고",
    "이라는",
    "라는",
    "라고",
    "이란",
    "인지",
    "인가",
    "인가요",
    "인데",
    "이었다",
    "였다",
    "이었습니다",
    "였습니다",
    "이에요",
    "예요",
    "이죠",
];
/// Verb and adjective endings (어미) of two or more syllables; none ends a noun.
const ENDINGS: &[&str] = &[
    "습니다",
    "습니까",
    "나요",
    "가요",
    "까요",
    "어요",
    "아요",
    "여요",
    "에요",
    "세요",
    "지요",
    "는지",
    "는가",
    "는데",
    "은데",
    "지만",
    "으면",
    "으려면",
    "려면",
    "려고",
    "으려고",
    "도록",
    "어서",
    "아서",
    "어야",
    "아야",
    "어도",
    "아도",
    "으며",
    "었다",
    "았다",
    "는다",
    "었습니다",
    "았습니다",
    "겠습니다",
];
/// One-syllable particles that also end many nouns (국가 정의 정도 미만 결과
/// 경로 하나 함께): they are stripped only from stems of two or more syllables.
const AMBIGUOUS: &[&str] = &["이", "가", "의", "도", "만", "과", "로", "나", "들", "께"];

/// Forms of 하다, 되다 and 시키다 that make a verb of a noun.
const LIGHT_VERBS: &[&str] = &[
    "하", "해", "했", "한", "할", "함", "합", "되", "돼", "됐", "된", "될", "됨", "됩", "시키",
    "시켜", "시켰", "시킨", "시킬",
];
/// Endings allowed after a light verb (the empty one included).
const LIGHT_VERB_ENDINGS: &[&str] = &[
    "",
    "다",
    "는",
    "고",
    "며",
    "면",
    "여",
    "여서",
    "여야",
    "여도",
    "였",
    "였다",
    "지",
    "지만",
    "기",
    "게",
    "도록",
    "려면",
    "려고",
    "려는",
    "는데",
    "는지",
    "는가",
    "나",
    "나요",
    "니다",
    "니까",
    "세요",
    "시오",
    "십시오",
    "시면",
    "신",
    "실",
    "셨",
    "서",
    "야",
    "도",
    "요",
    "라",
    "라고",
    "라는",
    "어",
    "어서",
    "어야",
    "어도",
    "었",
    "었다",
    "던",
    "든지",
    "자",
    "죠",
    "겠",
    "면서",
    "기도",
    "기는",
];

/// Bytes of one Hangul syllable in UTF-8 (every one of U+AC00..=U+D7A3).
const SYLLABLE: usize = 3;

/// Every suffix with the minimum stem (in syllables) it must leave.
static SUFFIXES: LazyLock<HashMap<String, usize>> = LazyLock::new(|| {
    let mut particles: Vec<String> = CASE
        .iter()
        .chain(AUX)
        .map(|s| (*s).to_owned())
        .chain(
            STACK_HEAD
                .iter()
                .flat_map(|h| STACK_TAIL.iter().map(move |t| format!("{h}{t}"))),
        )
        .chain(ONLY.iter().map(|s| (*s).to_owned()))
        .collect();
    let plural: Vec<String> = std::iter::once(PLURAL.to_owned())
        .chain(particles.iter().map(|p| format!("{PLURAL}{p}")))
        .collect();
    particles.extend(plural);
    particles
        .into_iter()
        .chain(COPULA.iter().chain(ENDINGS).map(|s| (*s).to_owned()))
        .map(|s| {
            let min = if AMBIGUOUS.contains(&s.as_str()) {
                2
            } else {
                1
            };
            (s, min)
        })
        .collect()
});

/// The longest suffix, in syllables.
static MAX_SUFFIX: LazyLock<usize> = LazyLock::new(|| {
    SUFFIXES
        .keys()
        .map(|s| s.len() / SYLLABLE)
        .max()
        .unwrap_or(0)
});

static LIGHT_VERB_END_SET: LazyLock<HashSet<&'static str>> =
    LazyLock::new(|| LIGHT_VERB_ENDINGS.iter().copied().collect());

/// Whether `c` is a precomposed Hangul syllable, the only characters [`stem`] accepts.
pub fn is_hangul_syllable(c: char) -> bool {
    ('\u{AC00}'..='\u{D7A3}').contains(&c)
}

/// The stem of one eojeol `word` (Hangul syllables only); `glued` when the
/// word directly follows an ASCII letter or digit. The stem may be empty
/// (a particle glued to a Latin word). Apart from the `ㅂ니다` rule, which
/// rewrites the last syllable, the stem is a prefix of `word`, and it never
/// has more syllables than `word`.
pub fn stem(word: &str, glued: bool) -> Cow<'_, str> {
    debug_assert!(word.chars().all(is_hangul_syllable));
    let stripped = strip_suffix(word, glued);
    // A light-verb stem is shorter than the stripped word, so it is also a prefix of `word`.
    match light_verb(&stripped).or_else(|| light_verb(word)) {
        Some(syllables) => Cow::Borrowed(&word[..syllables * SYLLABLE]),
        None => stripped,
    }
}

/// Step 1: removes the longest listed suffix that leaves a long enough stem.
fn strip_suffix(word: &str, glued: bool) -> Cow<'_, str> {
    let len = word.len() / SYLLABLE;
    let floor = |min: usize| if glued { 0 } else { min };
    for n in (1..=len.min(*MAX_SUFFIX)).rev() {
        let cut = word.len() - n * SYLLABLE;
        let suffix = &word[cut..];
        if let Some(&min) = SUFFIXES.get(suffix)
            && len - n >= floor(min)
        {
            return Cow::Borrowed(&word[..cut]);
        }
        // ㅂ니다 / ㅂ니까: the syllable before 니다 loses its final ㅂ (합니다 → 하).
        // 습니다 is a listed suffix. The minimum (1) always holds here: len ≥ 3.
        if n == 2 && (suffix == "니다" || suffix == "니까") && len >= 3 {
            let before = &word[cut - SYLLABLE..cut];
            if let Some(c) = before.chars().next()
                && c != '습'
                && has_final_b(c)
                && let Some(open) = char::from_u32(u32::from(c) - FINAL_B)
            {
                let mut out = String::with_capacity(cut);
                out.push_str(&word[..cut - SYLLABLE]);
                out.push(open);
                return Cow::Owned(out);
            }
        }
    }
    Cow::Borrowed(word)
}

/// Index of ㅂ among the final consonants (jongseong) of a Hangul syllable.
const FINAL_B: u32 = 17;

/// A Hangul syllable ending in ㅂ.
fn has_final_b(c: char) -> bool {
    is_hangul_syllable(c) && (u32::from(c) - 0xAC00) % 28 == FINAL_B
}

/// Step 2: X + light verb + ending with X of at least 2 syllables → the
/// length of X in syllables (the leftmost such split).
fn light_verb(word: &str) -> Option<usize> {
    let len = word.len() / SYLLABLE;
    (2..len).find(|&i| {
        let rest = &word[i * SYLLABLE..];
        LIGHT_VERBS.iter().any(|form| {
            rest.strip_prefix(form)
                .is_some_and(|end| LIGHT_VERB_END_SET.contains(end))
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    type TestResult = std::result::Result<(), Box<dyn std::error::Error>>;

    #[test]
    fn the_study_examples_stem_as_documented() {
        for (word, glued, want) in [
            ("혈압약은", false, "혈압약"),
            ("는", true, ""),
            ("국가", false, "국가"),
            ("안에", false, "안"),
            ("진단하여", false, "진단"),
            ("설치합니다", false, "설치"),
            ("대하여", false, "대하여"),
            ("모든", false, "모든"),
            ("것을", false, "것"),
            ("데비안에서는", false, "데비안"),
            ("무엇인가요", false, "무엇"),
            ("있습니다", false, "있"),
            ("됩니다", false, "되"),
            ("설치된", false, "설치"),
            ("필요한", false, "필요"),
            ("설치했습니다", false, "설치"),
            ("설치하나요", false, "설치"),
            ("위해", false, "위해"),
            ("함께", false, "함께"),
            ("결과", false, "결과"),
            ("당뇨병이", false, "당뇨병"),
            ("고혈압", false, "고혈압"),
        ] {
            assert_eq!(stem(word, glued), want, "{word} (glued: {glued})");
        }
    }

    #[test]
    fn one_syllable_ambiguous_particles_need_a_two_syllable_stem() {
        assert_eq!(stem("환자가", false), "환자");
        assert_eq!(stem("차가", false), "차가");
        assert_eq!(stem("차를", false), "차");
        assert_eq!(stem("차가", true), "차");
    }

    #[test]
    fn the_suffix_table_is_the_one_the_study_measured() -> TestResult {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../bench/analyzers/suffixes.txt"
        );
        let study: HashMap<String, usize> = std::fs::read_to_string(path)?
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|line| {
                let (suffix, min) = line.split_once('\t').ok_or("no tab")?;
                Ok((suffix.to_owned(), min.trim().parse()?))
            })
            .collect::<std::result::Result<_, Box<dyn std::error::Error>>>()?;
        assert_eq!(study.len(), 281);
        assert_eq!(*SUFFIXES, study);
        assert_eq!(*MAX_SUFFIX, 5);
        Ok(())
    }

    #[test]
    fn stems_never_grow() {
        for word in [
            "가",
            "합니다",
            "갑니다",
            "습니다",
            "입니다",
            "하여",
            "들",
            "니다",
        ] {
            for glued in [false, true] {
                let s = stem(word, glued);
                assert!(s.chars().count() <= word.chars().count(), "{word}");
                assert!(s.chars().all(is_hangul_syllable), "{word}");
            }
        }
        assert_eq!(stem("갑니다", false), "가");
        assert_eq!(stem("합니다", true), "하");
    }
}
