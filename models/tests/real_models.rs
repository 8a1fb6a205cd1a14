//! The engine with the real small models: the shared generator conformance
//! suite on a base model (completion prompts) and a chat-template model, and
//! embeddings. Model files come from `installer/fetch-models.sh`.

use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard};

use sillok_models::{
    CancelToken, Catalogue, ChatRole, Embedder, EngineOptions, GenerationRequest, Generator,
    LlamaGenerator, Message, Prompt, conformance,
};

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// One model at a time: concurrent llama.cpp runs on 2 cores slow each other tenfold.
fn model_lock() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn model_file(name: &str) -> PathBuf {
    let dir = std::env::var_os("SILLOK_MODEL_FILES")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/sillok/model-files"))
        })
        .unwrap_or_default();
    let path = dir.join(name);
    assert!(
        path.is_file(),
        "{} is missing: run installer/fetch-models.sh",
        path.display()
    );
    path
}

fn options() -> EngineOptions {
    EngineOptions {
        threads: None,
        n_ctx: Some(512),
        n_gpu_layers: 0,
    }
}

fn load(file: &str) -> Result<(tempfile::TempDir, LlamaGenerator), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let mut catalogue = Catalogue::open(dir.path())?;
    let entry = catalogue.import(&model_file(file), None, &mut |_, _| {})?;
    let generator = LlamaGenerator::load(&catalogue.path_of(&entry), &entry, &options())?;
    Ok((dir, generator))
}

#[test]
fn base_model_passes_the_generator_conformance_suite() -> TestResult {
    let _lock = model_lock();
    let (_dir, generator) = load("gemma-3-270m-q4_k_m.gguf")?;
    conformance::run_all(&generator);
    Ok(())
}

#[test]
fn chat_template_model_passes_the_generator_conformance_suite() -> TestResult {
    let _lock = model_lock();
    let (_dir, generator) = load("SmolLM2-135M-Instruct.Q4_1.gguf")?;
    conformance::run_all(&generator);
    Ok(())
}

#[test]
fn korean_output_streams_whole_syllables() -> TestResult {
    let _lock = model_lock();
    let (_dir, generator) = load("gemma-3-270m-q4_k_m.gguf")?;
    let mut request = GenerationRequest::new(
        Prompt::Chat(vec![Message::new(
            ChatRole::User,
            "고혈압 환자의 혈압 목표는 130/80 mmHg 미만이다. 당뇨병 환자의",
        )]),
        48,
    );
    request.sampling.temperature = 0.0;
    let mut pieces = Vec::new();
    let report = generator.generate(&request, &CancelToken::default(), &mut |p| {
        pieces.push(p.to_owned())
    })?;
    assert_eq!(pieces.concat(), report.text);
    assert!(
        report.text.chars().any(|c| ('가'..='힣').contains(&c)),
        "no Hangul in {:?}",
        report.text
    );
    // Every streamed piece is valid text on its own: no syllable was cut.
    assert!(
        pieces
            .iter()
            .all(|p| !p.contains(char::REPLACEMENT_CHARACTER)),
        "{pieces:?}"
    );
    Ok(())
}

#[test]
fn token_counts_use_the_loaded_models_own_tokenizer() -> TestResult {
    let _lock = model_lock();
    let (_d1, gemma) = load("gemma-3-270m-q4_k_m.gguf")?;
    let (_d2, smol) = load("SmolLM2-135M-Instruct.Q4_1.gguf")?;
    let korean = "고혈압 환자의 혈압 목표는 130/80 mmHg 미만이다.";
    // Gemma's multilingual vocabulary holds Hangul; SmolLM2's English one shreds it.
    assert!(gemma.count_tokens(korean)? < smol.count_tokens(korean)?);
    Ok(())
}

#[test]
fn embeddings_are_normalised_batched_and_meaningful() -> TestResult {
    let _lock = model_lock();
    let dir = tempfile::tempdir()?;
    let mut catalogue = Catalogue::open(dir.path())?;
    let entry = catalogue.import(&model_file("all-MiniLM-L6-v2.gguf"), None, &mut |_, _| {})?;
    let embedder = Embedder::load(
        &catalogue.path_of(&entry),
        &entry,
        &EngineOptions::default(),
    )?;
    let texts = [
        "The patient has high blood pressure.",
        "Hypertension was diagnosed in the patient.",
        "The stock market fell sharply today.",
    ];
    let vectors = embedder.embed(&texts)?;
    assert_eq!(vectors.len(), 3);
    assert_eq!(embedder.dimensions(), 384);
    let cos = |a: &[f32], b: &[f32]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f32>();
    for v in &vectors {
        assert!((cos(v, v) - 1.0).abs() < 1e-3);
    }
    assert!(cos(&vectors[0], &vectors[1]) > cos(&vectors[0], &vectors[2]) + 0.3);
    // Batching changes nothing: one at a time gives the same vectors.
    for (text, batched) in texts.iter().zip(&vectors) {
        let single = embedder.embed(&[text])?;
        assert!(cos(&single[0], batched) > 0.999);
    }
    // Many texts (more than one llama.cpp batch) keep their order.
    let many: Vec<&str> = texts.iter().copied().cycle().take(40).collect();
    let all = embedder.embed(&many)?;
    assert_eq!(all.len(), 40);
    assert!(cos(&all[37], &vectors[1]) > 0.999);
    Ok(())
}

#[test]
fn a_chat_model_is_not_loaded_as_an_embedder() -> TestResult {
    let dir = tempfile::tempdir()?;
    let mut catalogue = Catalogue::open(dir.path())?;
    let entry = catalogue.import(
        &model_file("SmolLM2-135M-Instruct.Q4_1.gguf"),
        None,
        &mut |_, _| {},
    )?;
    let err = Embedder::load(
        &catalogue.path_of(&entry),
        &entry,
        &EngineOptions::default(),
    );
    assert!(matches!(err, Err(sillok_models::Error::WrongRole { .. })));
    Ok(())
}
