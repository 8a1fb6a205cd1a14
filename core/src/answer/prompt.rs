//! The grounded prompt: numbered sources, the question and the profile's
//! instructions, fitted into the loaded model's context with its own tokenizer.
//! Chat models get their template; base models a completion-style layout
//! that ends where the answer begins.

use sillok_models::{ChatRole, Generator, Message, Prompt, PromptStyle};

use super::evidence::Source;
use crate::Result;
use crate::profile::Profile;

/// Tokens kept free beyond the answer: template markers and rounding.
const MARGIN_TOKENS: usize = 48;
/// Characters per token assumed when a source must be shortened (then re-counted).
const CHARS_PER_TOKEN: usize = 2;

/// A prompt ready for the model.
#[derive(Debug, Clone)]
pub struct GroundedPrompt {
    /// What the model is given.
    pub prompt: Prompt,
    /// Sources that fit (the first `sources_used` of those offered).
    pub sources_used: usize,
    /// Stop strings (completion style: where a base model would start a new question).
    pub stop: Vec<String>,
    /// Prompt tokens, counted with the model's tokenizer.
    pub tokens: usize,
}

fn language_instruction(language: &str) -> &'static str {
    if language == "ko" {
        "Answer in Korean (한국어로 답하세요)."
    } else {
        "Answer in English."
    }
}

fn format_source(source: &Source, text: &str) -> String {
    let mut head = format!("[{}] {} — p.{}", source.number, source.title, source.page);
    if !source.headings.is_empty() {
        head.push_str(" — ");
        head.push_str(&source.headings);
    }
    format!("{head}\n{text}\n\n")
}

fn assemble(
    style: PromptStyle,
    system: &str,
    sources: &str,
    question: &str,
) -> (Prompt, Vec<String>) {
    match style {
        PromptStyle::ChatTemplate => (
            Prompt::Chat(vec![
                Message::new(ChatRole::System, system),
                Message::new(
                    ChatRole::User,
                    format!("Sources:\n\n{sources}Question: {question}"),
                ),
            ]),
            Vec::new(),
        ),
        PromptStyle::Completion => (
            Prompt::Text(format!(
                "{system}\n\nSources:\n\n{sources}Question: {question}\nAnswer (with source numbers like [1]):"
            )),
            vec!["\nQuestion:".into(), "\nSources:".into(), "\n\n\n".into()],
        ),
    }
}

/// Builds the prompt with as many sources (best first) as fit in the context
/// next to `max_tokens` of answer; a source that does not fit whole is shortened.
///
/// # Errors
///
/// Tokenizer failures.
pub fn build(
    generator: &dyn Generator,
    profile: &Profile,
    question: &str,
    language: &str,
    sources: &[Source],
    max_tokens: u32,
) -> Result<GroundedPrompt> {
    let style = generator.prompt_style();
    let system = format!(
        "{} {}",
        profile.system_prompt,
        language_instruction(language)
    );
    let count = |prompt: &Prompt| -> Result<usize> {
        Ok(match prompt {
            Prompt::Text(text) => generator.count_tokens(text)?,
            Prompt::Chat(messages) => messages
                .iter()
                .map(|m| generator.count_tokens(&m.content))
                .sum::<sillok_models::Result<usize>>()?,
        })
    };
    let budget = (generator.context_length() as usize)
        .saturating_sub(max_tokens as usize)
        .saturating_sub(MARGIN_TOKENS);
    let (frame, _) = assemble(style, &system, "", question);
    let mut used_tokens = count(&frame)?;
    let mut text = String::new();
    let mut used = 0;
    for source in sources {
        let whole = format_source(source, &source.text);
        let tokens = generator.count_tokens(&whole)?;
        if used_tokens + tokens <= budget {
            text.push_str(&whole);
            used_tokens += tokens;
            used += 1;
            continue;
        }
        // Shorten the source to what is left, if that is worth giving.
        let room = budget.saturating_sub(used_tokens);
        if room >= 64 {
            let chars = room.saturating_mul(CHARS_PER_TOKEN) / 2;
            let cut: String = source.text.chars().take(chars).collect();
            let part = format_source(source, &format!("{cut} …"));
            let tokens = generator.count_tokens(&part)?;
            if used_tokens + tokens <= budget {
                text.push_str(&part);
                used += 1;
            }
        }
        break;
    }
    let (prompt, stop) = assemble(style, &system, &text, question);
    let tokens = count(&prompt)?;
    Ok(GroundedPrompt {
        prompt,
        sources_used: used,
        stop,
        tokens,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use sillok_models::ScriptedGenerator;

    fn source(number: usize, text: &str) -> Source {
        Source {
            number,
            doc_key: format!("c:{number}"),
            collection: "c".into(),
            path: format!("/d/{number}.txt"),
            title: format!("doc {number}"),
            headings: "Plan".into(),
            page: 2,
            span: 0..text.chars().count(),
            chunk_index: 0,
            score: 1.0,
            coverage: 1.0,
            similarity: None,
            standing: None,
            text: text.into(),
            ocr_confidence: None,
            low_confidence: false,
        }
    }

    #[test]
    fn sources_are_numbered_and_cut_to_the_context_budget() -> Result<()> {
        // The scripted generator counts one token per byte.
        let generator = ScriptedGenerator::new("s", "x").with_context(1500);
        let profile = crate::profile::built_in().remove(0);
        let sources: Vec<Source> = (1..=5)
            .map(|n| source(n, &"amlodipine 5 mg daily. ".repeat(20)))
            .collect();
        let built = build(&generator, &profile, "What dose?", "en", &sources, 200)?;
        assert!(built.tokens <= 1500 - 200, "{}", built.tokens);
        assert!(
            built.sources_used >= 1 && built.sources_used < 5,
            "{}",
            built.sources_used
        );
        let Prompt::Chat(messages) = &built.prompt else {
            return Err(crate::Error::EmptyQuestion);
        };
        assert!(messages[1].content.contains("[1] doc 1 — p.2 — Plan"));
        assert!(messages[1].content.ends_with("Question: What dose?"));
        assert!(messages[0].content.contains("Answer in English."));
        Ok(())
    }
}
