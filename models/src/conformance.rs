//! The conformance suite every [`Generator`] passes: the real engine on each
//! test model, and the scripted stand-in. It asserts behaviour, not wording:
//! the same checks hold for any model.

use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::generate::{
    CancelToken, GenerationRequest, Generator, MAX_PROMPT_BYTES, Prompt, StopReason,
};
use crate::{ChatRole, Error, Message};

/// Runs every check; panics with a description on the first failure.
pub fn run_all(generator: &dyn Generator) {
    streamed_text_is_the_reported_text(generator);
    max_tokens_is_respected(generator);
    greedy_generation_is_repeatable_and_stop_strings_cut_it(generator);
    cancel_before_start_generates_nothing(generator);
    cancel_mid_stream_takes_effect_within_a_second(generator);
    nul_bytes_and_chat_prompts_are_accepted(generator);
    oversized_prompts_are_refused_and_long_ones_trimmed(generator);
    token_counts_grow_with_text(generator);
}

fn greedy(prompt: Prompt, max_tokens: u32) -> GenerationRequest {
    let mut request = GenerationRequest::new(prompt, max_tokens);
    request.sampling.temperature = 0.0;
    request
}

fn run(
    generator: &dyn Generator,
    request: &GenerationRequest,
) -> (Vec<String>, crate::GenerationReport) {
    let mut pieces = Vec::new();
    let report = generator
        .generate(request, &CancelToken::default(), &mut |t| {
            pieces.push(t.to_owned())
        })
        .unwrap_or_else(|e| panic!("generation failed: {e}"));
    (pieces, report)
}

fn streamed_text_is_the_reported_text(generator: &dyn Generator) {
    let (pieces, report) = run(
        generator,
        &greedy(Prompt::Text("The patient's blood pressure was".into()), 12),
    );
    assert_eq!(
        pieces.concat(),
        report.text,
        "streamed pieces must add up to the text"
    );
    assert!(
        pieces.iter().all(|p| !p.is_empty()),
        "no empty pieces are streamed"
    );
    assert!(report.prompt_tokens > 0);
    assert!(report.generated_tokens <= 12);
    assert!(matches!(
        report.stop,
        StopReason::MaxTokens | StopReason::EndOfGeneration
    ));
    if !report.text.is_empty() {
        assert!(
            report.timings.first_token.is_some(),
            "time to first token is measured"
        );
    }
}

fn max_tokens_is_respected(generator: &dyn Generator) {
    let (_, report) = run(
        generator,
        &greedy(Prompt::Text("Once upon a time".into()), 3),
    );
    assert!(
        report.generated_tokens <= 3,
        "{} tokens",
        report.generated_tokens
    );
}

fn greedy_generation_is_repeatable_and_stop_strings_cut_it(generator: &dyn Generator) {
    let request = greedy(Prompt::Text("1, 2, 3, 4, 5,".into()), 16);
    let (_, first) = run(generator, &request);
    let (_, second) = run(generator, &request);
    assert_eq!(
        first.text, second.text,
        "greedy generation is deterministic"
    );
    // Cut at a stop string taken from the middle of the known output.
    let chars: Vec<(usize, char)> = first.text.char_indices().collect();
    if chars.len() < 4 {
        return;
    }
    let (start, _) = chars[chars.len() / 2];
    let end = chars
        .get(chars.len() / 2 + 2)
        .map_or(first.text.len(), |(i, _)| *i);
    let stop = first.text[start..end].to_owned();
    let cut = first.text.find(&stop).unwrap_or(start);
    let mut with_stop = request.clone();
    with_stop.stop = vec![stop.clone()];
    let (pieces, report) = run(generator, &with_stop);
    assert_eq!(
        report.stop,
        StopReason::StopSequence,
        "stop {stop:?} in {:?}",
        first.text
    );
    assert_eq!(report.text, first.text[..cut]);
    assert_eq!(
        pieces.concat(),
        report.text,
        "the stop string is never streamed"
    );
}

fn cancel_before_start_generates_nothing(generator: &dyn Generator) {
    let cancel = CancelToken::default();
    cancel.cancel();
    let mut pieces = 0;
    let report = generator
        .generate(
            &greedy(Prompt::Text("Hello".into()), 50),
            &cancel,
            &mut |_| pieces += 1,
        )
        .unwrap_or_else(|e| panic!("generation failed: {e}"));
    assert_eq!(report.stop, StopReason::Cancelled);
    assert_eq!(report.generated_tokens, 0);
    assert_eq!(pieces, 0);
}

fn cancel_mid_stream_takes_effect_within_a_second(generator: &dyn Generator) {
    let cancel = CancelToken::default();
    let (tx, rx) = mpsc::channel();
    let mut request = GenerationRequest::new(
        Prompt::Text("Write a long story about a hospital.".into()),
        100_000,
    );
    request.sampling.temperature = 0.8;
    let report = std::thread::scope(|scope| {
        let cancel_ref = &cancel;
        let canceller = scope.spawn(move || {
            // Cancel once text is flowing.
            let first = rx.recv_timeout(Duration::from_secs(60)).is_ok();
            let at = Instant::now();
            cancel_ref.cancel();
            (first, at)
        });
        let report = generator.generate(&request, &cancel, &mut |_| {
            let _sent = tx.send(());
        });
        let ended = Instant::now();
        let (first, cancelled_at) = canceller
            .join()
            .unwrap_or_else(|_| panic!("canceller panicked"));
        (report, first, ended.saturating_duration_since(cancelled_at))
    });
    let (report, got_text, latency) = report;
    let report = report.unwrap_or_else(|e| panic!("generation failed: {e}"));
    if got_text {
        assert_eq!(
            report.stop,
            StopReason::Cancelled,
            "generation ran to {:?}",
            report.stop
        );
        assert!(latency < Duration::from_secs(1), "cancel took {latency:?}");
    } else {
        // The model ended its turn without text; nothing to cancel.
        assert_ne!(report.stop, StopReason::MaxTokens);
    }
}

fn nul_bytes_and_chat_prompts_are_accepted(generator: &dyn Generator) {
    let (_, report) = run(
        generator,
        &greedy(Prompt::Text("dose\0 of\0 aspirin".into()), 4),
    );
    assert!(report.prompt_tokens > 0);
    let chat = Prompt::Chat(vec![
        Message::new(ChatRole::System, "Answer briefly."),
        Message::new(ChatRole::User, "고혈압의 1차 치료제는?\0"),
    ]);
    let (pieces, report) = run(generator, &greedy(chat, 8));
    assert_eq!(pieces.concat(), report.text);
}

fn oversized_prompts_are_refused_and_long_ones_trimmed(generator: &dyn Generator) {
    let huge = GenerationRequest::new(Prompt::Text("a".repeat(MAX_PROMPT_BYTES + 1)), 4);
    match generator.generate(&huge, &CancelToken::default(), &mut |_| {}) {
        Err(Error::PromptTooLong { .. }) => {}
        other => panic!("expected PromptTooLong, got {other:?}"),
    }
    let n_ctx = generator.context_length() as usize;
    let long = "The clinic note continues. ".repeat(n_ctx);
    let (_, report) = run(generator, &greedy(Prompt::Text(long), 8));
    assert!(
        report.prompt_tokens_dropped > 0,
        "a prompt over the window is trimmed"
    );
    assert!(
        report.prompt_tokens + 8 <= n_ctx,
        "{} prompt tokens in {n_ctx}",
        report.prompt_tokens
    );
}

fn token_counts_grow_with_text(generator: &dyn Generator) {
    let count = |t: &str| {
        generator
            .count_tokens(t)
            .unwrap_or_else(|e| panic!("count failed: {e}"))
    };
    assert_eq!(count(""), 0);
    assert!(count("혈압 140/90 mmHg") > 0);
    assert!(count(&"혈압 140/90 mmHg ".repeat(10)) > count("혈압 140/90 mmHg"));
}
