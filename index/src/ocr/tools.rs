//! The outside programs OCR runs, each in its own bounded process: poppler's
//! `pdfinfo` and `pdftoppm` (page count and sizes; one page rendered to a
//! grey PNG) and `tesseract` (the text). Separate processes keep their C code
//! out of ours and let a hostile page cost at most the limits set here: a
//! wall-clock time-out (the process is killed), an address-space limit
//! (`prlimit --as`), one OpenMP thread, a lower CPU priority (`nice`), and,
//! where util-linux has `setpriv`, death with the process that started it.
//!
//! Every file handed to these programs is one we wrote into a private work
//! folder, with a fixed name: never a user's path, never a URL (tesseract
//! reads URLs when built with curl; we never give it one).

use std::ffi::OsStr;
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
    pub(crate) fn find(settings: &OcrSettings, work: &Path) -> Result<Tools, String> {
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
        let listing = work.join("languages.txt");
        let mut cmd = tools.bounded(&tools.tesseract, settings);
        cmd.arg("--list-langs");
        run(cmd, QUICK, Some(&listing), &AtomicBool::new(false))
            .map_err(|e| format!("the OCR engine does not start ({e:?}): {INSTALL_HINT}"))?;
        let listed = std::fs::read_to_string(&listing).unwrap_or_default();
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
        pdf: &Path,
        max_pages: u32,
        settings: &OcrSettings,
        stop: &AtomicBool,
    ) -> Result<PdfInfo, RunFailure> {
        let out = pdf.with_extension("info.txt");
        let mut cmd = self.bounded(&self.pdfinfo, settings);
        cmd.args(["-f", "1", "-l", &max_pages.max(1).to_string()])
            .arg(pdf);
        run(cmd, QUICK, Some(&out), stop)?;
        let text = std::fs::read(&out).map_err(|e| RunFailure::Failed(e.to_string()))?;
        parse_pdf_info(&String::from_utf8_lossy(&text))
            .ok_or_else(|| RunFailure::Failed("pdfinfo gave no page count".to_owned()))
    }

    /// Renders page `page` of `pdf` to `<out>.png` (grey, 8 bits) at `dpi`.
    pub(crate) fn render(
        &self,
        pdf: &Path,
        page: u32,
        dpi: u32,
        out: &Path,
        settings: &OcrSettings,
        stop: &AtomicBool,
    ) -> Result<PathBuf, RunFailure> {
        let mut cmd = self.bounded(&self.pdftoppm, settings);
        let page = page.to_string();
        cmd.args(["-r", &dpi.to_string(), "-gray", "-png", "-singlefile"])
            .args(["-f", &page, "-l", &page])
            .arg(pdf)
            .arg(out);
        run(cmd, settings.page_timeout, None, stop)?;
        Ok(out.with_extension("png"))
    }

    /// Reads the text of `image` (every page of it): tesseract with the
    /// configured languages, "single column of text" segmentation (`--psm
    /// 4`: the automatic layout, `--psm 3`, drops lines of simple Korean
    /// pages and splits forms into fragments), `txt` and `tsv` outputs.
    pub(crate) fn recognise(
        &self,
        image: &Path,
        dpi: Option<u32>,
        pages: u32,
        settings: &OcrSettings,
        stop: &AtomicBool,
    ) -> Result<Vec<Recognised>, RunFailure> {
        // Tesseract adds `.txt` and `.tsv` to this name.
        let base = image.with_file_name("ocr-out");
        let mut cmd = self.bounded(&self.tesseract, settings);
        cmd.arg(image)
            .arg(&base)
            .args(["-l", &settings.languages, "--psm", "4"]);
        if let Some(dpi) = dpi {
            cmd.args(["--dpi", &dpi.to_string()]);
        }
        cmd.args(["txt", "tsv"]);
        let timeout = settings.page_timeout.saturating_mul(pages.max(1));
        run(cmd, timeout, None, stop)?;
        let read = |ext: &str| {
            std::fs::read(base.with_extension(ext))
                .map(|b| String::from_utf8_lossy(&b).into_owned())
                .map_err(|e| RunFailure::Failed(format!("no {ext} output: {e}")))
        };
        Ok(output::read(&read("txt")?, &read("tsv")?))
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
/// set; its standard output goes to `stdout` (else nowhere), its standard
/// error (warnings about the page) to the debug log.
pub(crate) fn run(
    mut cmd: Command,
    timeout: Duration,
    stdout: Option<&Path>,
    stop: &AtomicBool,
) -> Result<(), RunFailure> {
    let out = match stdout {
        Some(path) => {
            Stdio::from(std::fs::File::create(path).map_err(|e| RunFailure::Failed(e.to_string()))?)
        }
        None => Stdio::null(),
    };
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| RunFailure::Failed(format!("cannot start: {e}")))?;
    // Drain stderr on its own thread so a chatty tool never blocks on it.
    let stderr = child.stderr.take().map(|mut pipe| {
        std::thread::spawn(move || {
            let mut text = Vec::new();
            if let Err(e) = std::io::Read::read_to_end(&mut pipe, &mut text) {
                tracing::debug!(error = %e, "reading an OCR tool's messages failed");
            }
            text
        })
    });
    let started = Instant::now();
    let mut pause = Duration::from_millis(5);
    let result = loop {
        match child.try_wait() {
            Ok(Some(status)) => break exit_result(status),
            Ok(None) => {}
            Err(e) => break Err(RunFailure::Failed(e.to_string())),
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
        break Err(failure);
    };
    if let Some(messages) = stderr.and_then(|t| t.join().ok())
        && !messages.is_empty()
    {
        // Tool messages can quote the page: debug level only.
        tracing::debug!(messages = %String::from_utf8_lossy(&messages), "OCR tool messages");
    }
    result
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
            &AtomicBool::new(false),
        );
        assert_eq!(result, Err(RunFailure::TimedOut));
        assert!(started.elapsed() < Duration::from_secs(5));
        let mut cmd = Command::new("sleep");
        cmd.arg("20");
        let result = run(cmd, Duration::from_secs(60), None, &AtomicBool::new(true));
        assert_eq!(result, Err(RunFailure::Stopped));
        let result = run(
            Command::new("false"),
            Duration::from_secs(5),
            None,
            &AtomicBool::new(false),
        );
        assert_eq!(result, Err(RunFailure::Failed("exit status 1".to_owned())));
    }

    #[test]
    fn missing_tools_are_named_with_the_install_command() -> Result<(), Box<dyn std::error::Error>>
    {
        let empty = tempfile::tempdir()?;
        let settings = OcrSettings {
            tool_path: Some(empty.path().as_os_str().to_owned()),
            ..OcrSettings::default()
        };
        let err = Tools::find(&settings, empty.path())
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
        let work = tempfile::tempdir()?;
        let settings = OcrSettings {
            languages: "kor+xyz".to_owned(),
            ..OcrSettings::default()
        };
        let err = Tools::find(&settings, work.path())
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
        let work = tempfile::tempdir()?;
        let settings = OcrSettings {
            max_memory_bytes: 16 << 20,
            ..OcrSettings::default()
        };
        let tools = Tools::find(&OcrSettings::default(), work.path())?;
        let mut cmd = tools.bounded(&tools.tesseract, &settings);
        cmd.arg("--list-langs");
        let result = run(cmd, QUICK, None, &AtomicBool::new(false));
        assert!(matches!(result, Err(RunFailure::Failed(_))), "{result:?}");
        Ok(())
    }
}
