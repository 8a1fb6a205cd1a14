//! Process hardening the front ends apply at start-up, before any key or
//! document is in memory. Owns nothing else.

use crate::{Error, Result};

/// Disables core dumps for this process and every process it starts: the
/// core-file size limit goes to 0 (soft and hard, inherited by children such
/// as the OCR tools) and, on Linux, the process is marked non-dumpable
/// (`PR_SET_DUMPABLE` 0), which also stops a `core_pattern` pipe handler and
/// same-user `ptrace` from reading its memory. A crash then leaves no copy of
/// the data key or of document text on disk.
///
/// # Errors
///
/// [`Error::CoreDumps`] when the OS refuses.
pub fn disable_core_dumps() -> Result<()> {
    #[cfg(unix)]
    {
        use rustix::process::{Resource, Rlimit, setrlimit};
        setrlimit(
            Resource::Core,
            Rlimit {
                current: Some(0),
                maximum: Some(0),
            },
        )
        .map_err(|e| Error::CoreDumps { source: e.into() })?;
    }
    #[cfg(target_os = "linux")]
    rustix::process::set_dumpable_behavior(rustix::process::DumpableBehavior::NotDumpable)
        .map_err(|e| Error::CoreDumps { source: e.into() })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(target_os = "linux")]
    #[test]
    fn core_dumps_are_off_after_the_call() -> Result<()> {
        disable_core_dumps()?;
        let limit = rustix::process::getrlimit(rustix::process::Resource::Core);
        assert_eq!((limit.current, limit.maximum), (Some(0), Some(0)));
        assert_eq!(
            rustix::process::dumpable_behavior()
                .map_err(|e| Error::CoreDumps { source: e.into() })?,
            rustix::process::DumpableBehavior::NotDumpable
        );
        // Idempotent: the front ends may call it more than once.
        disable_core_dumps()
    }
}
