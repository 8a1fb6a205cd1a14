//! The outside programs OCR runs, each in its own bounded process: poppler's
//! `pdfinfo` and `pdftoppm` (page count and sizes; one page rendered to a
//! grey PNG) and `tesseract` (the text). Separate processes keep their C code
//! out of ours and let a hostile page cost at most the limits set here: a
//! wall-clock time-out (the process is killed), an address-space limit
//! (`prlimit --as`), one OpenMP thread, a lower CPU priority (`nice`), and,
//! where util-linux has `setpriv`, death with the process that started it.
//!
//! Nothing derived from a document touches the disk: the file goes to each
//! program on its standard input (`-` for poppler, `stdin` for tesseract),
//! the rendered page and the text come back on its standard output, held in
//! memory (bounded) and passed on. No path is ever handed over, the user's
//! or ours, and never a URL (tesseract reads URLs when built with curl).

use std::ffi::OsStr;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use super::OcrSettings;
use super::output::{self, Recognised};

/// The apt packages that provide the tools, for messages.
pub(crate) const INSTALL_HINT: &str =
    "apt install tesseract-ocr tesseract-ocr-kor tesseract-ocr-eng poppler-utils";
/// Time allowed for quick questions to a tool (version, languages, page sizes).
const QUICK: Duration = Duration::from_secs(30);
/// CPU time allowed beyond the wall-clock limit (a backstop for `prlimit`).
const CPU_SLACK: Duration = Duration::from_secs(10);
/// Lowest resolution a page is rendered at, however large it is.
const MIN_DPI: u32 = 30;
/// Most bytes kept of a quick answer (page list, languages).
const QUICK_OUTPUT: usize = 1 << 20;
/// Most bytes kept of tesseract's text and word table for one run.
const TEXT_OUTPUT: usize = 64 << 20;

/// Why a tool run gave no result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RunFailure {
    /// It ran past its time limit and was killed.
    TimedOut,
    /// The caller asked to stop; the process was killed.
    Stopped,
    /// It exited with an error or was killed by a signal (its memory limit).
    Failed(String),
}

impl RunFailure {
    /// In words for the user (a page's OCR status).
    pub(crate) fn describe(&self, what: &str, settings: &OcrSettings) -> String {
        match self {
            RunFailure::TimedOut => format!(
                "{what} took longer than {} s and was stopped",
                settings.page_timeout.as_secs()
            ),
            RunFailure::Stopped => format!("{what} was interrupted"),
            RunFailure::Failed(how) => format!(
                "{what} failed ({how}); the page may be damaged, or need more than the {} MiB memory limit",
                settings.max_memory_bytes >> 20
            ),
        }
    }
}

/// The located programs.
#[derive(Debug, Clone)]
pub(crate) struct Tools {
    tesseract: PathBuf,
    pdftoppm: PathBuf,
    pdfinfo: PathBuf,
    prlimit: PathBuf,
    setpriv: Option<PathBuf>,
    nice: Option<PathBuf>,
}

/// A PDF's page count and page sizes, as `pdfinfo` reports them.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct PdfInfo {
    /// Pages in the document.
    pub pages: u32,
    /// Width and height in points (1/72 inch), by page number.
    pub sizes: std::collections::BTreeMap<u32, (f64, f64)>,
}

impl Tools {
    /// Finds the programs on `settings.tool_path` (else `$PATH`) and checks
    /// that tesseract has the languages asked for.
    ///
    /// # Errors
    ///
    /// What is missing and how to install it, for the user.
    pub(crate) fn find(settings: &OcrSettings) -> Result<Tools, String> {
        let path = settings
            .tool_path
            .clone()
            .or_else(|| std::env::var_os("PATH"))
            .unwrap_or_default();
        let mut missing = Vec::new();
        let mut find = |name: &str| {
            let found = which(name, &path);
            if found.is_none() {
                missing.push(name.to_owned());
            }
            found.unwrap_or_default()
        };
        let tools = Tools {
            tesseract: find("tesseract"),
            pdftoppm: find("pdftoppm"),
            pdfinfo: find("pdfinfo"),
            prlimit: find("prlimit"),
            setpriv: which("setpriv", &path),
            nice: which("nice", &path),
        };
        if !missing.is_empty() {
            return Err(format!(
                "OCR tools not installed ({} not found): {INSTALL_HINT}",
                missing.join(", ")
            ));
        }
        let mut cmd = tools.bounded(&tools.tesseract, settings);
        cmd.arg("--list-langs");
        let listed = run(cmd, QUICK, None, QUICK_OUTPUT, &AtomicBool::new(false))
            .map_err(|e| format!("the OCR engine does not start ({e:?}): {INSTALL_HINT}"))?;
        let listed = String::from_utf8_lossy(&listed);
        let have: Vec<&str> = listed.lines().map(str::trim).collect();
        let lacking: Vec<&str> = settings
            .languages
            .split('+')
            .filter(|l| !have.contains(l))
            .collect();
        if !lacking.is_empty() {
            let packages: Vec<String> = lacking
                .iter()
                .map(|l| format!("tesseract-ocr-{l}"))
                .collect();
            return Err(format!(
                "OCR language data not installed ({}): apt install {}",
                lacking.join(", "),
                packages.join(" ")
            ));
        }
        Ok(tools)
    }

    /// A command running `program` under the limits: `setpriv --pdeathsig
    /// KILL prlimit --as=… --cpu=… nice -n 10 program`. Each wrapper execs
    /// the next, so the child's process id is the program's.
    fn bounded(&self, program: &Path, settings: &OcrSettings) -> Command {
        let cpu = settings.page_timeout.saturating_add(CPU_SLACK).as_secs();
        let mut args: Vec<&OsStr> = Vec::new();
        let limits = [
            format!("--as={}", settings.max_memory_bytes),
            format!("--cpu={cpu}"),
        ];
        let mut cmd = match &self.setpriv {
            Some(setpriv) => {
                args.extend([OsStr::new("--pdeathsig"), OsStr::new("KILL")]);
                args.push(self.prlimit.as_os_str());
                Command::new(setpriv)
            }
            None => Command::new(&self.prlimit),
        };
        args.extend(limits.iter().map(OsStr::new));
        if let Some(nice) = &self.nice {
            args.extend([nice.as_os_str(), OsStr::new("-n"), OsStr::new("10")]);
        }
        args.push(program.as_os_str());
        cmd.args(args)
            .env("OMP_THREAD_LIMIT", "1")
            .env("LC_ALL", "C");
        cmd
    }

    /// Page count and sizes of `pdf`, for its first `max_pages` pages.
    pub(crate) fn pdf_info(
        &self,
        pdf: &[u8],
        max_pages: u32,
        settings: &OcrSettings,
        stop: &AtomicBool,
    ) -> Result<PdfInfo, RunFailure> {
        let mut cmd = self.bounded(&self.pdfinfo, settings);
        cmd.args(["-f", "1", "-l", &max_pages.max(1).to_string(), "-"]);
        let text = run(cmd, QUICK, Some(pdf), QUICK_OUTPUT, stop)?;
        parse_pdf_info(&String::from_utf8_lossy(&text))
            .ok_or_else(|| RunFailure::Failed("pdfinfo gave no page count".to_owned()))
    }

    /// Page `page` of `pdf` rendered at `dpi` as a PNG (grey, 8 bits) of
    /// at most `max_pixels` pixels.
    pub(crate) fn render(
        &self,
        pdf: &[u8],
        page: u32,
        dpi: u32,
        max_pixels: u64,
        settings: &OcrSettings,
        stop: &AtomicBool,
    ) -> Result<Vec<u8>, RunFailure> {
        let mut cmd = self.bounded(&self.pdftoppm, settings);
        let page = page.to_string();
        // No output name: pdftoppm writes the single page to stdout.
        cmd.args(["-r", &dpi.to_string(), "-gray", "-png", "-singlefile"])
            .args(["-f", &page, "-l", &page, "-"]);
        // One byte a pixel, plus room for PNG's framing on incompressible rows.
        let limit = usize::try_from(max_pixels.saturating_add(max_pixels / 8 + (1 << 20)))
            .unwrap_or(usize::MAX);
        run(cmd, settings.page_timeout, Some(pdf), limit, stop)
    }

    /// Reads the text of `image` (every page of it): tesseract with the
    /// configured languages, "single column of text" segmentation (`--psm
    /// 4`: the automatic layout, `--psm 3`, drops lines of simple Korean
    /// pages and splits forms into fragments), `txt` and `tsv` outputs.
    pub(crate) fn recognise(
        &self,
        image: &[u8],
        dpi: Option<u32>,
        pages: u32,
        settings: &OcrSettings,
        stop: &AtomicBool,
    ) -> Result<Vec<Recognised>, RunFailure> {
        let mut cmd = self.bounded(&self.tesseract, settings);
        // Both outputs go to stdout, interleaved: `output::split` parts them.
        cmd.args(["stdin", "stdout", "-l", &settings.languages, "--psm", "4"]);
        if let Some(dpi) = dpi {
            cmd.args(["--dpi", &dpi.to_string()]);
        }
        cmd.args(["txt", "tsv"]);
        let timeout = settings.page_timeout.saturating_mul(pages.max(1));
        let out = run(cmd, timeout, Some(image), TEXT_OUTPUT, stop)?;
        let (txt, tsv) = output::split(&String::from_utf8_lossy(&out));
        Ok(output::read(&txt, &tsv))
    }
}

/// The resolution to render a page of `width` × `height` points at: the
/// wanted `dpi`, lowered so the picture stays within `max_pixels`.
pub(crate) fn render_dpi(dpi: u32, size: Option<(f64, f64)>, max_pixels: u64) -> u32 {
    let Some((w, h)) = size.filter(|(w, h)| *w > 0.0 && *h > 0.0) else {
        return dpi;
    };
    let square_inches = (w / 72.0) * (h / 72.0);
    let fits = (max_pixels as f64 / square_inches).sqrt().floor();
    if fits >= f64::from(dpi) {
        dpi
    } else {
        (fits as u32).max(MIN_DPI)
    }
}

/// `Pages:` and `Page N size: W x H pts` lines of `pdfinfo`'s output.
fn parse_pdf_info(text: &str) -> Option<PdfInfo> {
    let mut info = PdfInfo::default();
    let mut found = false;
    for line in text.lines() {
        if let Some(n) = line.strip_prefix("Pages:") {
            info.pages = n.trim().parse().ok()?;
            found = true;
        } else if let Some(rest) = line.strip_prefix("Page") {
            let Some((number, size)) = rest.split_once("size:") else {
                continue;
            };
            let Ok(number) = number.trim().parse::<u32>() else {
                continue;
            };
            let mut dims = size.split_whitespace();
            if let (Some(w), Some("x"), Some(h)) = (dims.next(), dims.next(), dims.next())
                && let (Ok(w), Ok(h)) = (w.parse(), h.parse())
            {
                info.sizes.insert(number, (w, h));
            }
        }
    }
    found.then_some(info)
}

/// The executable `name` in one of the folders of `path` (PATH syntax).
fn which(name: &str, path: &OsStr) -> Option<PathBuf> {
    std::env::split_paths(path)
        .filter(|dir| dir.is_absolute())
        .map(|dir| dir.join(name))
        .find(|candidate| is_executable(candidate))
}

#[cfg(unix)]
fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(not(unix))]
fn is_executable(path: &Path) -> bool {
    path.is_file()
}

/// Runs `cmd` to completion, killing it when `timeout` passes or `stop` is
/// set: `input` is written to its standard input (else it gets none), and
/// its standard output is returned, failing past `max_output` bytes; its
/// standard error (warnings about the page) goes to the debug log.
pub(crate) fn run(
    mut cmd: Command,
    timeout: Duration,
    input: Option<&[u8]>,
    max_output: usize,
    stop: &AtomicBool,
) -> Result<Vec<u8>, RunFailure> {
    let mut child = cmd
        .stdin(if input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| RunFailure::Failed(format!("cannot start: {e}")))?;
    let stdin = child.stdin.take();
    let stdout = child.stdout.take();
    let stderr = child.stderr.take();
    // Each pipe on its own thread, so the tool never blocks on one while we
    // wait on another; the threads end when the tool ends or is killed.
    std::thread::scope(|scope| {
        if let (Some(mut pipe), Some(bytes)) = (stdin, input) {
            scope.spawn(move || {
                // A tool may stop reading early (pdfinfo, or a killed one).
                if let Err(e) = pipe.write_all(bytes) {
                    tracing::debug!(error = %e, "an OCR tool did not read all its input");
                }
            });
        }
        let output = stdout.map(|pipe| scope.spawn(move || drain(pipe, max_output)));
        let messages = stderr.map(|pipe| scope.spawn(move || drain(pipe, QUICK_OUTPUT)));
        let status = wait(&mut child, timeout, stop);
        if let Some(Ok((messages, _))) = messages.map(|t| t.join())
            && !messages.is_empty()
        {
            // Tool messages can quote the page: debug level only.
            tracing::debug!(messages = %String::from_utf8_lossy(&messages), "OCR tool messages");
        }
        status?;
        match output.map(|t| t.join()) {
            Some(Ok((bytes, false))) => Ok(bytes),
            Some(Ok((_, true))) => Err(RunFailure::Failed(format!(
                "its output passed {} MiB",
                max_output >> 20
            ))),
            _ => Err(RunFailure::Failed(
                "its output could not be read".to_owned(),
            )),
        }
    })
}

/// Reads `pipe` to its end, keeping at most `limit` bytes; `true` when
/// there was more (the rest is read and dropped so the writer never blocks).
fn drain(mut pipe: impl Read, limit: usize) -> (Vec<u8>, bool) {
    let mut kept = Vec::new();
    let mut buf = [0u8; 64 * 1024];
    let mut over = false;
    loop {
        match pipe.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                let room = limit.saturating_sub(kept.len());
                kept.extend_from_slice(&buf[..n.min(room)]);
                over |= n > room;
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => {
                tracing::debug!(error = %e, "reading an OCR tool's output failed");
                break;
            }
        }
    }
    (kept, over)
}

/// Waits for `child`, killing it when `timeout` passes or `stop` is set.
fn wait(
    child: &mut std::process::Child,
    timeout: Duration,
    stop: &AtomicBool,
) -> Result<(), RunFailure> {
    let started = Instant::now();
    let mut pause = Duration::from_millis(5);
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return exit_result(status),
            Ok(None) => {}
            Err(e) => return Err(RunFailure::Failed(e.to_string())),
        }
        let failure = if stop.load(Ordering::Relaxed) {
            RunFailure::Stopped
        } else if started.elapsed() >= timeout {
            RunFailure::TimedOut
        } else {
            std::thread::sleep(pause);
            pause = (pause * 2).min(Duration::from_millis(50));
            continue;
        };
        if let Err(e) = child.kill() {
            tracing::debug!(error = %e, "killing an OCR tool failed (it had ended)");
        }
        if let Err(e) = child.wait() {
            tracing::debug!(error = %e, "waiting for a killed OCR tool failed");
        }
        return Err(failure);
    }
}

fn exit_result(status: ExitStatus) -> Result<(), RunFailure> {
    if status.success() {
        return Ok(());
    }
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(signal) = status.signal() {
            return Err(RunFailure::Failed(format!("killed by signal {signal}")));
        }
    }
    Err(RunFailure::Failed(match status.code() {
        Some(code) => format!("exit status {code}"),
        None => "no exit status".to_owned(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pdfinfo_output_is_read() {
        let text = "Title:           고혈압\nPages:           2\nEncrypted:       no\n\
                    Page    1 size:  595.28 x 841.89 pts (A4)\nPage    1 rot:   0\n\
                    Page    2 size:  612 x 792 pts (letter)\nPage size: 1 x 1 pts\n";
        let info = parse_pdf_info(text);
        assert_eq!(
            info,
            Some(PdfInfo {
                pages: 2,
                sizes: [(1, (595.28, 841.89)), (2, (612.0, 792.0))].into()
            })
        );
        assert_eq!(parse_pdf_info("Title: x\n"), None);
    }

    #[test]
    fn large_pages_render_at_a_lower_resolution() {
        let a4 = Some((595.28, 841.89));
        assert_eq!(render_dpi(300, a4, 100_000_000), 300);
        assert_eq!(render_dpi(300, None, 100_000_000), 300);
        // A 200-inch square poster: 50 dpi keeps it at 100 megapixels.
        assert_eq!(render_dpi(300, Some((14_400.0, 14_400.0)), 100_000_000), 50);
        assert_eq!(render_dpi(300, Some((1e9, 1e9)), 100_000_000), MIN_DPI);
    }

    #[test]
    fn a_tool_past_its_time_is_killed() {
        let started = Instant::now();
        let mut cmd = Command::new("sleep");
        cmd.arg("20");
        let result = run(
            cmd,
            Duration::from_millis(200),
            None,
            QUICK_OUTPUT,
            &AtomicBool::new(false),
        );
        assert_eq!(result, Err(RunFailure::TimedOut));
        assert!(started.elapsed() < Duration::from_secs(5));
        let mut cmd = Command::new("sleep");
        cmd.arg("20");
        let result = run(
            cmd,
            Duration::from_secs(60),
            None,
            QUICK_OUTPUT,
            &AtomicBool::new(true),
        );
        assert_eq!(result, Err(RunFailure::Stopped));
        let result = run(
            Command::new("false"),
            Duration::from_secs(5),
            None,
            QUICK_OUTPUT,
            &AtomicBool::new(false),
        );
        assert_eq!(result, Err(RunFailure::Failed("exit status 1".to_owned())));
    }

    #[test]
    fn input_goes_through_a_pipe_and_output_is_bounded() {
        let input: Vec<u8> = (0..200_000u32).map(|i| i as u8).collect();
        let run_cat = |limit| {
            run(
                Command::new("cat"),
                Duration::from_secs(30),
                Some(&input),
                limit,
                &AtomicBool::new(false),
            )
        };
        assert_eq!(run_cat(input.len()).as_ref(), Ok(&input));
        assert!(matches!(run_cat(1 << 10), Err(RunFailure::Failed(why)) if why.contains("output")));
    }

    #[test]
    fn missing_tools_are_named_with_the_install_command() -> Result<(), Box<dyn std::error::Error>>
    {
        let empty = tempfile::tempdir()?;
        let settings = OcrSettings {
            tool_path: Some(empty.path().as_os_str().to_owned()),
            ..OcrSettings::default()
        };
        let err = Tools::find(&settings)
            .err()
            .ok_or("found tools in an empty folder")?;
        assert_eq!(
            err,
            format!(
                "OCR tools not installed (tesseract, pdftoppm, pdfinfo, prlimit not found): {INSTALL_HINT}"
            )
        );
        Ok(())
    }

    #[test]
    fn missing_languages_are_named() -> Result<(), Box<dyn std::error::Error>> {
        let settings = OcrSettings {
            languages: "kor+xyz".to_owned(),
            ..OcrSettings::default()
        };
        let err = Tools::find(&settings)
            .err()
            .ok_or("found a language that does not exist")?;
        assert_eq!(
            err,
            "OCR language data not installed (xyz): apt install tesseract-ocr-xyz"
        );
        Ok(())
    }

    #[test]
    fn a_tool_over_its_memory_limit_fails_cleanly() -> Result<(), Box<dyn std::error::Error>> {
        let settings = OcrSettings {
            max_memory_bytes: 16 << 20,
            ..OcrSettings::default()
        };
        let tools = Tools::find(&OcrSettings::default())?;
        let mut cmd = tools.bounded(&tools.tesseract, &settings);
        cmd.arg("--list-langs");
        let result = run(cmd, QUICK, None, QUICK_OUTPUT, &AtomicBool::new(false));
        assert!(matches!(result, Err(RunFailure::Failed(_))), "{result:?}");
        Ok(())
    }
}
