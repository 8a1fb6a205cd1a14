//! The CPU baseline check.
//!
//! llama.cpp is compiled for x86-64-v3 (AVX2, FMA, F16C, BMI2; see
//! `.cargo/config.toml`) while the Rust code stays at the x86-64 baseline, so
//! this check can run first and refuse clearly instead of crashing with SIGILL
//! inside llama.cpp.

use crate::{Error, Result};

/// Fails with [`Error::UnsupportedCpu`] when this CPU cannot run the engine build.
///
/// # Errors
///
/// [`Error::UnsupportedCpu`] naming the missing extensions.
pub fn check_cpu_baseline() -> Result<()> {
    let missing = missing_features();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(Error::UnsupportedCpu {
            missing: missing.join(", "),
        })
    }
}

#[cfg(target_arch = "x86_64")]
fn missing_features() -> Vec<&'static str> {
    let mut missing = Vec::new();
    if !std::is_x86_feature_detected!("avx2") {
        missing.push("AVX2");
    }
    if !std::is_x86_feature_detected!("fma") {
        missing.push("FMA");
    }
    if !std::is_x86_feature_detected!("f16c") {
        missing.push("F16C");
    }
    if !std::is_x86_feature_detected!("bmi2") {
        missing.push("BMI2");
    }
    missing
}

// Other architectures build llama.cpp for the compiler's default target.
#[cfg(not(target_arch = "x86_64"))]
fn missing_features() -> Vec<&'static str> {
    Vec::new()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_build_machine_meets_the_baseline() {
        // The machine that built llama.cpp for x86-64-v3 must also pass the check,
        // or the engine tests below it would die with SIGILL.
        assert!(check_cpu_baseline().is_ok(), "{:?}", missing_features());
    }
}
