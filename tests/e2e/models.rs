//! `sillok models …` with real GGUF files and hostile ones.

use std::fs;

use crate::util::{GEMMA, MINILM, SMOLLM, Sillok, TestResult, json_lines, model_file};

#[test]
fn importing_the_default_model_catalogues_and_describes_it() -> TestResult {
    let s = Sillok::new();
    let out = s.ok(&[
        "models",
        "import",
        model_file(GEMMA).to_str().unwrap_or_default(),
    ]);
    assert!(out.contains("imported gemma-3-270m-q4_k_m"), "{out}");
    assert!(out.contains("a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818"));
    // The file was copied in: the data dir no longer needs the source.
    assert_eq!(
        fs::metadata(s.models_dir().join("gemma-3-270m-q4_k_m.gguf"))?.len(),
        fs::metadata(model_file(GEMMA))?.len()
    );

    let list = &json_lines(&s.ok(&["models", "list", "--json"]))[0];
    let entry = &list[0];
    assert_eq!(entry["name"], "gemma-3-270m-q4_k_m");
    assert_eq!(entry["default"], true);
    assert_eq!(entry["role"], "chat");
    assert_eq!(entry["provenance"], "known");
    assert_eq!(entry["prompt_style"], "completion");

    let info = &json_lines(&s.ok(&["models", "info", "gemma-3-270m-q4_k_m", "--json"]))[0];
    assert_eq!(info["architecture"], "gemma3");
    assert_eq!(info["quantization"], "Q4_K_M");
    assert_eq!(info["has_chat_template"], false);
    assert_eq!(info["context_length"], 32768);
    let params = info["parameters"].as_u64().unwrap_or(0);
    assert!(
        (200_000_000..350_000_000).contains(&params),
        "{params} parameters"
    );
    assert!(
        info["memory_estimate"]["bytes"].as_u64().unwrap_or(0)
            > fs::metadata(model_file(GEMMA))?.len() / 2
    );

    let text = s.ok(&["models", "info", "gemma-3-270m-q4_k_m"]);
    assert!(text.contains("chat template  no"), "{text}");
    Ok(())
}

#[test]
fn chat_and_embedding_models_get_their_roles_and_defaults() -> TestResult {
    let s = Sillok::new();
    s.import(SMOLLM);
    s.import(MINILM);
    let list = &json_lines(&s.ok(&["models", "list", "--json"]))[0];
    let by_name = |name: &str| {
        list.as_array()
            .and_then(|l| l.iter().find(|m| m["name"] == name))
            .cloned()
    };
    let smol = by_name("smollm2-135m-instruct-q4_1").ok_or("smollm missing")?;
    assert_eq!(smol["role"], "chat");
    assert_eq!(smol["has_chat_template"], true);
    assert_eq!(smol["prompt_style"], "chat-template");
    assert_eq!(smol["default"], true);
    let mini = by_name("all-minilm-l6-v2").ok_or("minilm missing")?;
    assert_eq!(mini["role"], "embedding");
    assert_eq!(mini["default"], true);
    assert_eq!(mini["provenance"], "known");

    // Generating with an embedding model is refused by role.
    let err = s.fails(2, &["generate", "hi", "--model", "all-minilm-l6-v2"]);
    assert!(
        err.contains("is a embedding model, not a chat model") || err.contains("embedding model"),
        "{err}"
    );
    Ok(())
}

#[test]
fn importing_the_same_file_twice_is_refused() {
    let s = Sillok::new();
    s.import(SMOLLM);
    let err = s.fails(
        2,
        &[
            "models",
            "import",
            model_file(SMOLLM).to_str().unwrap_or_default(),
            "--name",
            "again",
        ],
    );
    assert!(
        err.contains("already imported as model smollm2-135m-instruct-q4_1"),
        "{err}"
    );
    // Nothing half-copied is left behind.
    let leftovers: Vec<_> = fs::read_dir(s.models_dir())
        .map(|d| d.filter_map(Result::ok).map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert_eq!(leftovers.len(), 2, "{leftovers:?}"); // the model and catalogue.json
}

#[test]
fn hostile_and_broken_files_get_specific_errors_and_change_nothing() -> TestResult {
    let s = Sillok::new();
    let tmp = tempfile::tempdir()?;
    let real = fs::read(model_file(SMOLLM))?;
    let write = |name: &str, bytes: &[u8]| -> Result<String, std::io::Error> {
        let path = tmp.path().join(name);
        fs::write(&path, bytes)?;
        Ok(path.to_string_lossy().into_owned())
    };
    let mut absurd_tensors = b"GGUF".to_vec();
    absurd_tensors.extend(3u32.to_le_bytes());
    absurd_tensors.extend((1u64 << 60).to_le_bytes());
    absurd_tensors.extend(1u64.to_le_bytes());
    let mut absurd_string = b"GGUF".to_vec();
    absurd_string.extend(3u32.to_le_bytes());
    absurd_string.extend(1u64.to_le_bytes());
    absurd_string.extend(1u64.to_le_bytes());
    absurd_string.extend(u64::MAX.to_le_bytes());
    absurd_string.extend([0u8; 64]);

    let cases: Vec<(String, &str)> = vec![
        (
            write("garbage.gguf", b"this is not a model at all, just text")?,
            "not a gguf file",
        ),
        (write("header-cut.gguf", &real[..4096])?, "truncated"),
        (
            write("data-cut.gguf", &real[..real.len() / 2])?,
            "past the end of the file",
        ),
        (
            write("tensors.gguf", &absurd_tensors)?,
            "implausible tensor count",
        ),
        (write("string.gguf", &absurd_string)?, "more than the"),
        (write("empty.gguf", b"")?, "truncated"),
        (
            tmp.path().to_string_lossy().into_owned(),
            "not a regular file",
        ),
        (
            tmp.path()
                .join("missing.gguf")
                .to_string_lossy()
                .into_owned(),
            "cannot access",
        ),
    ];
    for (path, expected) in &cases {
        let err = s.fails(2, &["models", "import", path]);
        assert!(
            err.to_lowercase().contains(expected),
            "{path}: expected {expected:?} in {err}"
        );
        assert!(!err.contains("panicked"), "{err}");
    }
    assert!(s.ok(&["models", "list"]).contains("no models installed"));
    Ok(())
}

#[test]
fn a_file_claiming_to_be_a_known_model_with_other_bytes_is_refused() -> TestResult {
    let s = Sillok::new();
    let tmp = tempfile::tempdir()?;
    let mut bytes = fs::read(model_file(SMOLLM))?;
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff; // one byte of tensor data
    let fake = tmp.path().join(SMOLLM);
    fs::write(&fake, &bytes)?;
    let err = s.fails(2, &["models", "import", fake.to_str().unwrap_or_default()]);
    assert!(
        err.contains("claims to be the known model smollm2-135m-instruct-q4_1"),
        "{err}"
    );
    assert!(
        err.contains("b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"),
        "{err}"
    );
    // Under a name of its own it is a user import, recorded with its own hash.
    let renamed = tmp.path().join("my-model.gguf");
    fs::rename(&fake, &renamed)?;
    s.ok(&["models", "import", renamed.to_str().unwrap_or_default()]);
    let list = &json_lines(&s.ok(&["models", "list", "--json"]))[0];
    assert_eq!(list[0]["provenance"], "user-imported");
    Ok(())
}

#[test]
fn a_model_replaced_on_disk_after_import_is_refused_at_load_and_verify() -> TestResult {
    let _lock = crate::util::model_lock();
    let s = Sillok::new();
    s.import(SMOLLM);
    assert!(
        s.ok(&["models", "verify"])
            .contains("ok       smollm2-135m-instruct-q4_1")
    );
    let installed = s.models_dir().join("smollm2-135m-instruct-q4_1.gguf");
    let mut bytes = fs::read(&installed)?;
    let middle = bytes.len() - 1000;
    bytes[middle] ^= 0x01;
    fs::write(&installed, &bytes)?;
    let err = s.fails(2, &["models", "verify", "smollm2-135m-instruct-q4_1"]);
    assert!(
        err.contains("changed on disk since it was imported"),
        "{err}"
    );
    let err = s.fails(2, &["generate", "hello", "--max-tokens", "4"]);
    assert!(
        err.contains("changed on disk since it was imported"),
        "{err}"
    );
    Ok(())
}

#[test]
fn remove_and_default_keep_the_catalogue_consistent() -> TestResult {
    let s = Sillok::new();
    s.import(SMOLLM);
    s.ok(&[
        "models",
        "import",
        model_file(GEMMA).to_str().unwrap_or_default(),
    ]);
    assert!(
        s.ok(&["models", "default", "gemma-3-270m-q4_k_m"])
            .contains("default chat model")
    );
    let list = &json_lines(&s.ok(&["models", "list", "--json"]))[0];
    assert_eq!(list[1]["default"], true);
    s.ok(&["models", "remove", "gemma-3-270m-q4_k_m"]);
    assert!(!s.models_dir().join("gemma-3-270m-q4_k_m.gguf").exists());
    let err = s.fails(2, &["generate", "hi"]);
    assert!(err.contains("no model chosen"), "{err}");
    let err = s.fails(2, &["models", "remove", "gemma-3-270m-q4_k_m"]);
    assert!(err.contains("no model named gemma-3-270m-q4_k_m"), "{err}");
    Ok(())
}
