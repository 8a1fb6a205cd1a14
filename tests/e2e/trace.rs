//! The tools of the zero-egress and canary tests, shared by the CLI's
//! (`egress.rs`) and the desktop app's (the window tests include this file):
//! running a command in an empty network namespace under `strace -f`,
//! reading the trace (network calls to non-loopback addresses, files
//! written, which processes descend from which program), synthetic patient
//! records carrying unique canary markers, and a search of folders for them.
//!
//! The parser's unit tests at the bottom feed it lines showing an external
//! connect, so the checks built on it are known to be able to fail.

// Each test binary that includes this file uses a different part of it.
#![allow(dead_code)]

use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Unique strings of the synthetic canary records: Hangul names, resident
/// registration numbers (RRN-shaped, valid check digits) and invented
/// diagnoses. None occurs in the sample library, the models or the binaries.
pub const MARKERS: [&str; 10] = [
    "탁문휘",
    "여솔빈",
    "731224-2918361",
    "850315-1047328",
    "Quorvanthic",
    "quorvanthic",
    "Ombrathwaite",
    "ombrathwaite",
    "Glimmerfeld",
    "glimmerfeld",
];

/// What the markers become inside an index (Hangul bigrams, digit groups,
/// stems): searched for in the document stores once they are encrypted.
pub const INDEX_TERMS: [&str; 10] = [
    "탁문",
    "문휘",
    "여솔",
    "솔빈",
    "731224",
    "2918361",
    "850315",
    "1047328",
    "quorvanth",
    "ombrathwait",
];

/// Today the index, journal, vectors, OCR cache and conversations in the data
/// directory are plaintext, so the canary markers are *expected* in them (and
/// [`canary_problems`] checks they are, proving the search reads what the app
/// wrote). Encryption at rest (issue 7) is being built: when it covers these
/// stores, set this to `true`; the same stores must then hold neither the
/// markers nor the index terms they become ([`INDEX_TERMS`]). It switches the
/// CLI's and the desktop's canary checks together.
pub const DOCUMENT_STORES_ENCRYPTED: bool = true;

/// The data directory's document stores (relative to it): the only places
/// among the app's own folders allowed to hold document text while
/// [`DOCUMENT_STORES_ENCRYPTED`] is false.
pub const DOCUMENT_STORES: [&str; 2] = ["indexes", "db"];

/// A question the canary records answer (the evidence gate passes on them).
pub const CANARY_QUESTION: &str = "탁문휘 환자의 진단명은?";

const CANARY_NOTE: &str = "# 외래 경과기록 (가상 환자, 시험용)\n\n\
- 환자: 탁문휘\n\
- 주민등록번호: 731224-2918361\n\
- 진단명: Quorvanthic nephropathy\n\n\
탁문휘 환자의 진단명은 Quorvanthic nephropathy이다. 2024년 10월 외래에서 \
신기능 저하로 로사르탄 50 mg 1일 1회를 시작하였다.\n";

const CANARY_DISCHARGE: &str = "<!doctype html><html><head><title>Discharge summary</title></head>\
<body><h1>Discharge summary (synthetic)</h1>\
<p>Patient: Vexley Ombrathwaite. Registration number 850315-1047328.</p>\
<p>Diagnosis: Glimmerfeld-Praxton syndrome with Quorvanthic nephropathy. \
Discharged on day 6 with follow-up in the renal clinic.</p></body></html>\n";

const CANARY_TABLE: &str = "환자,주민등록번호,진단\n\
여솔빈,850315-1047328,Glimmerfeld-Praxton syndrome\n\
탁문휘,731224-2918361,Quorvanthic nephropathy\n";

/// Writes the synthetic canary records (Markdown with a patient's name in
/// its file name, HTML, CSV) into `dir`.
///
/// # Errors
///
/// When the folder cannot be written.
pub fn write_canary_records(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    for (name, text) in [
        ("탁문휘_진료기록.md", CANARY_NOTE),
        ("discharge-ombrathwaite.html", CANARY_DISCHARGE),
        ("canary-registry.csv", CANARY_TABLE),
    ] {
        std::fs::write(dir.join(name), text)?;
    }
    Ok(())
}

/// The syscalls traced: the network ones, process creation (to tell which
/// process descends from which program) and the ones that write files. The
/// seccomp filter stops the traced processes on these alone.
const TRACED: &str = "trace=network,execve,clone,clone3,fork,vfork,\
open,openat,openat2,creat,rename,renameat,renameat2,link,linkat,symlink,symlinkat,truncate";

/// `program args…` in a new, empty network namespace (loopback brought up,
/// nothing else) under `strace -f`, the trace written to `log`, stopped after
/// `limit` seconds. `unshare -n` needs root; elsewhere a user namespace maps
/// the caller to root in it.
pub fn contained(log: &Path, limit: u32, program: &Path) -> Command {
    let root = std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0);
    let mut command = Command::new("unshare");
    if !root {
        command.arg("-r");
    }
    command
        .args(["-n", "--", "sh", "-c"])
        .arg(format!(
            "ip link set lo up && exec strace -f --seccomp-bpf -qq -e signal=none -y -s 4096 -e {TRACED} -o \"$0\" -- timeout --kill-after=10 {limit} \"$@\""
        ))
        .arg(log)
        .arg(program);
    command
}

/// One traced call: the process (thread) id and the call as strace printed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    pub pid: u32,
    pub text: String,
}

impl Call {
    fn name(&self) -> &str {
        self.text.split_once('(').map_or("", |(name, _)| name)
    }

    /// The arguments and the result of a completed call: split at the last
    /// `)` followed by ` = ` (strace pads short calls to align the results).
    fn args_and_result(&self) -> Option<(&str, &str)> {
        let call = &self.text[self.name().len()..];
        call.rmatch_indices(" = ").find_map(|(at, _)| {
            let args = call[..at].trim_end().strip_suffix(')')?;
            Some((args, &call[at + 3..]))
        })
    }

    fn succeeded(&self) -> bool {
        self.args_and_result()
            .is_some_and(|(_, r)| !r.starts_with('-') && !r.starts_with('?'))
    }
}

/// One call per entry: with `-f`, a call interrupted by another thread is
/// printed as `… <unfinished ...>` and later `<... name resumed>…`; the two
/// halves are joined.
pub fn calls(log: &str) -> Vec<Call> {
    let mut pending: HashMap<u32, String> = HashMap::new();
    let mut calls = Vec::new();
    for line in log.lines() {
        let (pid, rest) = match line.split_once(' ') {
            Some((pid, rest)) => match pid.parse::<u32>() {
                Ok(pid) => (pid, rest.trim_start()),
                Err(_) => (0, line),
            },
            None => (0, line),
        };
        if let Some(head) = rest.strip_suffix("<unfinished ...>") {
            pending.insert(pid, head.trim_end().to_owned());
        } else if let Some(resumed) = rest.strip_prefix("<... ") {
            let tail = resumed.split_once("resumed>").map_or(resumed, |(_, t)| t);
            let head = pending.remove(&pid).unwrap_or_default();
            calls.push(Call {
                pid,
                text: format!("{head}{}", tail.trim_start()),
            });
        } else {
            calls.push(Call {
                pid,
                text: rest.to_owned(),
            });
        }
    }
    calls
}

/// The syscalls that send to, connect to or bind an address.
const ADDRESSING_CALLS: [&str; 5] = ["connect", "bind", "sendto", "sendmsg", "sendmmsg"];

/// The calls that connect, bind or send to an AF_INET/AF_INET6 address other
/// than loopback, failed attempts included. An address that cannot be read
/// counts as non-loopback. AF_UNIX and netlink are local and pass.
pub fn non_loopback_network_calls(calls: &[Call]) -> Vec<&Call> {
    calls
        .iter()
        .filter(|call| {
            ADDRESSING_CALLS.contains(&call.name())
                && inet_addresses(&call.text)
                    .iter()
                    .any(|ip| !ip.is_some_and(is_loopback))
        })
        .collect()
}

fn is_loopback(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_loopback(),
        IpAddr::V6(v6) => {
            v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
    }
}

/// The AF_INET/AF_INET6 socket addresses in one call, as strace prints them:
/// `{sa_family=AF_INET, sin_port=htons(80), sin_addr=inet_addr("203.0.113.1")}`,
/// `{sa_family=AF_INET6, …, inet_pton(AF_INET6, "::1", &sin6_addr), …}`.
fn inet_addresses(call: &str) -> Vec<Option<IpAddr>> {
    call.match_indices("sa_family=AF_INET")
        .map(|(at, _)| {
            let sockaddr = &call[at..];
            let sockaddr = sockaddr.split_once('}').map_or(sockaddr, |(s, _)| s);
            if sockaddr.starts_with("sa_family=AF_INET6") {
                quoted_after(sockaddr, "inet_pton(AF_INET6, \"")?
                    .parse::<Ipv6Addr>()
                    .ok()
                    .map(IpAddr::V6)
            } else {
                quoted_after(sockaddr, "inet_addr(\"")?
                    .parse::<Ipv4Addr>()
                    .ok()
                    .map(IpAddr::V4)
            }
        })
        .collect()
}

fn quoted_after<'a>(text: &'a str, opening: &str) -> Option<&'a str> {
    let start = text.find(opening)? + opening.len();
    text[start..].split_once('"').map(|(value, _)| value)
}

/// The processes (and threads) that ran `program` (an `execve` whose path
/// ends with it) and all their descendants, from the `clone`/`fork` results.
pub fn descendants_of(calls: &[Call], program: &str) -> HashSet<u32> {
    let mut children: HashMap<u32, Vec<u32>> = HashMap::new();
    let mut found: Vec<u32> = Vec::new();
    for call in calls.iter().filter(|c| c.succeeded()) {
        match call.name() {
            "clone" | "clone3" | "fork" | "vfork" => {
                let child = call
                    .args_and_result()
                    .and_then(|(_, r)| r.split_whitespace().next()?.parse::<u32>().ok());
                if let Some(child) = child {
                    children.entry(call.pid).or_default().push(child);
                }
            }
            "execve" => {
                let path = call
                    .args_and_result()
                    .and_then(|(args, _)| quoted_after(args, "(\""));
                if path.is_some_and(|p| p.ends_with(program)) {
                    found.push(call.pid);
                }
            }
            _ => {}
        }
    }
    let mut tree = HashSet::new();
    while let Some(pid) = found.pop() {
        if tree.insert(pid) {
            found.extend(children.get(&pid).into_iter().flatten());
        }
    }
    tree
}

/// Where the traced processes wrote, with the writer's pid: files opened for
/// writing or created (the path strace's `-y` resolved), and the targets of
/// renames, links and truncations; failed calls are left out. Directories
/// made are not listed: a directory holds no data until a file is written
/// into it, and that write is listed.
pub fn written_paths(calls: &[Call], cwd: &Path) -> Vec<(u32, PathBuf)> {
    let mut paths = Vec::new();
    for call in calls.iter().filter(|c| c.succeeded()) {
        let Some((args, result)) = call.args_and_result() else {
            continue;
        };
        let path = match call.name() {
            "open" | "openat" | "openat2" | "creat" => {
                let writes = call.name() == "creat"
                    || ["O_WRONLY", "O_RDWR", "O_CREAT", "O_TRUNC"]
                        .iter()
                        .any(|flag| args.contains(flag));
                match (writes, result.split_once('<')) {
                    (true, Some((_, resolved))) => {
                        let resolved = resolved.trim_end();
                        Some(unescape(resolved.strip_suffix('>').unwrap_or(resolved)))
                    }
                    _ => None,
                }
            }
            "rename" | "renameat" | "renameat2" | "link" | "linkat" | "symlink" | "symlinkat"
            | "truncate" => last_path_argument(args, cwd),
            _ => None,
        };
        if let Some(path) = path {
            paths.push((call.pid, PathBuf::from(path)));
        }
    }
    paths
}

/// The last quoted argument, resolved against the directory fd before it
/// (`3</dir>, "name"`) or else `cwd`. For every call above it is the path
/// written (the new name, the link, the truncated file).
fn last_path_argument(args: &str, cwd: &Path) -> Option<String> {
    let end = args.rfind('"')?;
    let start = args[..end].rfind('"')?;
    let path = unescape(&args[start + 1..end]);
    if path.starts_with('/') {
        return Some(path);
    }
    let before = args[..start].trim_end().trim_end_matches(',').trim_end();
    let dir = before
        .strip_suffix('>')
        .and_then(|b| b.rfind('<').map(|at| unescape(&b[at + 1..])))
        .unwrap_or_else(|| cwd.display().to_string());
    Some(format!("{dir}/{path}"))
}

/// Undoes strace's string escapes (`\"`, `\\`, `\n`, octal `\355`, hex `\xed`).
fn unescape(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'\\' || i + 1 == bytes.len() {
            out.push(bytes[i]);
            i += 1;
            continue;
        }
        let digits = |from: usize, radix: u32, max: usize| {
            let mut end = from;
            while end < bytes.len() && end - from < max && (bytes[end] as char).is_digit(radix) {
                end += 1;
            }
            let value = std::str::from_utf8(&bytes[from..end])
                .ok()
                .and_then(|d| u8::from_str_radix(d, radix).ok());
            (value, end)
        };
        let (value, end) = match bytes[i + 1] {
            b'x' => digits(i + 2, 16, 2),
            b'0'..=b'7' => digits(i + 1, 8, 3),
            b'n' => (Some(b'\n'), i + 2),
            b't' => (Some(b'\t'), i + 2),
            b'r' => (Some(b'\r'), i + 2),
            b'v' => (Some(0x0b), i + 2),
            b'f' => (Some(0x0c), i + 2),
            other => (Some(other), i + 2),
        };
        match value {
            Some(byte) => {
                out.push(byte);
                i = end;
            }
            None => {
                out.push(b'\\');
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Each string as UTF-8 and as UTF-16LE (how WebKit and Windows keep text),
/// labelled for messages.
pub fn needles(strings: &[&str]) -> Vec<(String, Vec<u8>)> {
    strings
        .iter()
        .flat_map(|s| {
            let utf16: Vec<u8> = s.encode_utf16().flat_map(u16::to_le_bytes).collect();
            [
                (s.to_string(), s.as_bytes().to_vec()),
                (format!("{s} (UTF-16)"), utf16),
            ]
        })
        .collect()
}

/// "path: needle" for every file under `root` (not under `skip`) whose name
/// or bytes hold a needle. Symlinks are not followed.
pub fn marker_hits(root: &Path, needles: &[(String, Vec<u8>)], skip: &[PathBuf]) -> Vec<String> {
    let mut hits = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if skip.iter().any(|s| path.starts_with(s)) {
                continue;
            }
            let name = entry.file_name();
            for (label, bytes) in needles {
                if memchr::memmem::find(name.as_bytes(), bytes).is_some() {
                    hits.push(format!("{} (name): {label}", path.display()));
                }
            }
            match entry.file_type() {
                Ok(t) if t.is_dir() => stack.push(path),
                Ok(t) if t.is_file() => {
                    let content = std::fs::read(&path).unwrap_or_default();
                    for (label, bytes) in needles {
                        if memchr::memmem::find(&content, bytes).is_some() {
                            hits.push(format!("{}: {label}", path.display()));
                        }
                    }
                }
                _ => {}
            }
        }
    }
    hits
}

/// What is wrong with the folders an app run wrote (`roots`, which hold the
/// data directory `data`): any canary marker outside the document stores;
/// and, by [`DOCUMENT_STORES_ENCRYPTED`], either any marker or index term in
/// the stores, or (while they are plaintext) no marker in them at all.
pub fn canary_problems(roots: &[&Path], data: &Path) -> Vec<String> {
    let markers = needles(&MARKERS);
    let stores: Vec<PathBuf> = DOCUMENT_STORES.iter().map(|s| data.join(s)).collect();
    let outside: &[PathBuf] = if DOCUMENT_STORES_ENCRYPTED {
        &[]
    } else {
        &stores
    };
    let mut problems: Vec<String> = roots
        .iter()
        .flat_map(|root| marker_hits(root, &markers, outside))
        .map(|hit| format!("canary marker outside the source folder: {hit}"))
        .collect();
    let in_stores = |needles: &[(String, Vec<u8>)]| -> Vec<String> {
        stores
            .iter()
            .flat_map(|s| marker_hits(s, needles, &[]))
            .collect()
    };
    if DOCUMENT_STORES_ENCRYPTED {
        problems.extend(
            in_stores(&needles(&INDEX_TERMS))
                .into_iter()
                .map(|hit| format!("index term in an encrypted store: {hit}")),
        );
    } else if in_stores(&markers).is_empty() {
        problems.push(format!(
            "no canary marker even in the plaintext stores {stores:?}: is the search blind?"
        ));
    }
    problems
}

#[test]
fn the_trace_parser_flags_connections_outside_loopback() {
    let log = r#"4101  socket(AF_UNIX, SOCK_STREAM|SOCK_CLOEXEC, 0) = 3<socket:[1]>
4101  connect(3<socket:[1]>, {sa_family=AF_UNIX, sun_path="/run/dbus/system_bus_socket"}, 31) = 0
4101  connect(4<socket:[2]>, {sa_family=AF_INET, sin_port=htons(4444), sin_addr=inet_addr("127.0.0.1")}, 16) = 0
4101  connect(5<socket:[3]>, {sa_family=AF_INET6, sin6_port=htons(80), sin6_flowinfo=htonl(0), inet_pton(AF_INET6, "::1", &sin6_addr), sin6_scope_id=0}, 28) = 0
4101  connect(5<socket:[3]>, {sa_family=AF_UNSPEC, sa_data="\0\0\0\0\0\0\0\0\0\0\0\0\0\0"}, 16) = 0
4101  bind(6<socket:[4]>, {sa_family=AF_INET, sin_port=htons(0), sin_addr=inet_addr("127.0.0.1")}, 16) = 0
4101  socket(AF_NETLINK, SOCK_RAW|SOCK_CLOEXEC, NETLINK_ROUTE) = 7<socket:[5]>
4101  sendto(7<socket:[5]>, [{nlmsg_len=20, nlmsg_type=RTM_GETLINK}], 20, 0, {sa_family=AF_NETLINK, nl_pid=0, nl_groups=00000000}, 12) = 20
4102  connect(8<socket:[6]>, {sa_family=AF_INET, sin_port=htons(80), sin_addr=inet_addr("203.0.113.1")}, 16 <unfinished ...>
4101  openat(AT_FDCWD</w>, "/x", O_RDONLY) = 9</x>
4102  <... connect resumed>) = -1 ENETUNREACH (Network is unreachable)
4103  sendto(9<socket:[7]>, "q", 1, MSG_NOSIGNAL, {sa_family=AF_INET6, sin6_port=htons(53), sin6_flowinfo=htonl(0), inet_pton(AF_INET6, "2001:db8::53", &sin6_addr), sin6_scope_id=0}, 28) = 1
4103  sendmsg(9<socket:[7]>, {msg_name={sa_family=AF_INET, sin_port=htons(53), sin_addr=inet_addr("8.8.8.8")}, msg_namelen=16, msg_iov=[{iov_base="q", iov_len=1}], msg_iovlen=1, msg_controllen=0, msg_flags=0}, 0) = 1
4103  bind(10<socket:[8]>, {sa_family=AF_INET, sin_port=htons(8080), sin_addr=inet_addr("0.0.0.0")}, 16) = 0
4103  connect(11<socket:[9]>, {sa_family=AF_INET6, sin6_port=htons(80), sin6_flowinfo=htonl(0), inet_pton(AF_INET6, "::ffff:127.0.0.1", &sin6_addr), sin6_scope_id=0}, 28) = 0
4103  connect(12<socket:[10]>, {sa_family=AF_INET, sin_port=htons(80), sin_addr=inet_addr(garbled)}, 16) = 0
"#;
    let parsed = calls(log);
    let flagged = non_loopback_network_calls(&parsed);
    let shown: Vec<(u32, &str)> = flagged
        .iter()
        .map(|c| {
            let address = [
                "203.0.113.1",
                "2001:db8::53",
                "8.8.8.8",
                "0.0.0.0",
                "garbled",
            ]
            .into_iter()
            .find(|a| c.text.contains(a))
            .unwrap_or(&c.text);
            (c.pid, address)
        })
        .collect();
    assert_eq!(
        shown,
        [
            (4102, "203.0.113.1"),
            (4103, "2001:db8::53"),
            (4103, "8.8.8.8"),
            (4103, "0.0.0.0"),
            (4103, "garbled")
        ],
        "{flagged:#?}"
    );
    // The external connect was joined with its result: a failed attempt counts.
    assert!(
        flagged[0]
            .text
            .ends_with("= -1 ENETUNREACH (Network is unreachable)")
    );
    // Loopback, AF_UNIX and netlink alone pass.
    let clean: String = log.lines().take(8).map(|l| format!("{l}\n")).collect();
    assert!(non_loopback_network_calls(&calls(&clean)).is_empty());
}

#[test]
fn the_trace_parser_finds_where_files_were_written_and_by_whom() {
    let log = r#"70  execve("/usr/bin/WebKitWebDriver", ["WebKitWebDriver"], 0x7ffd /* 9 vars */) = 0
70  clone(child_stack=NULL, flags=CLONE_CHILD_CLEARTID|CLONE_CHILD_SETTID|SIGCHLD, child_tidptr=0x7f) = 77
70  vfork( <unfinished ...>
70  <... vfork resumed>)              = 80
77  execve("/usr/local/bin/sillok-desktop", ["sillok-desktop"], 0x7ffd /* 9 vars */) = -1 ENOENT (No such file or directory)
77  execve("/build/debug/sillok-desktop", ["sillok-desktop"], 0x7ffd /* 9 vars */) = 0
77  clone3({flags=CLONE_VM|CLONE_FS|CLONE_FILES|CLONE_SIGHAND|CLONE_THREAD, exit_signal=0, stack=0x7f, stack_size=0x7ff}, 88 <unfinished ...>
70  openat(AT_FDCWD</w>, "/tmp/driver.log", O_WRONLY|O_CREAT, 0644) = 5</tmp/driver.log>
77  <... clone3 resumed> => {parent_tid=[78]}, 88) = 78
78  vfork() = 79
79  execve("/usr/lib/webkit2gtk-4.1/WebKitNetworkProcess", ["x"], 0x7 /* 9 vars */) = 0
77  openat(AT_FDCWD</w>, "/etc/ld.so.cache", O_RDONLY|O_CLOEXEC) = 3</etc/ld.so.cache>
77  openat(AT_FDCWD</w>, "out.txt", O_WRONLY|O_CREAT|O_TRUNC, 0666) = 3</w/out.txt>
78  openat(AT_FDCWD</w>, "/var/tmp/\355\203\201.txt", O_RDWR|O_CREAT|O_CLOEXEC, 0644 <unfinished ...>
77  openat(AT_FDCWD</w>, "/nope", O_WRONLY|O_CREAT, 0644) = -1 EACCES (Permission denied)
78  <... openat resumed>) = 4</var/tmp/\355\203\201.txt>
79  renameat2(AT_FDCWD</w>, "a.tmp", 5</data/db>, "a.json", RENAME_NOREPLACE) = 0
79  rename("b.tmp", "/elsewhere/b") = 0
79  link("c", "d")                      = 0
79  mkdir("/data/new", 0777) = 0
80  openat(AT_FDCWD</w>, "/w/e", O_WRONLY|O_CREAT|O_EXCL|O_CLOEXEC, 0666 <unfinished ...>
80  <... openat resumed>)             = 8</w/e>
"#;
    let parsed = calls(log);
    let app = descendants_of(&parsed, "/sillok-desktop");
    assert_eq!(app, HashSet::from([77, 78, 79]));
    let written = written_paths(&parsed, Path::new("/w"));
    let expected: Vec<(u32, PathBuf)> = [
        (70, "/tmp/driver.log"),
        (77, "/w/out.txt"),
        (78, "/var/tmp/탁.txt"),
        (79, "/data/db/a.json"),
        (79, "/elsewhere/b"),
        (79, "/w/d"),
        (80, "/w/e"),
    ]
    .into_iter()
    .map(|(pid, p)| (pid, PathBuf::from(p)))
    .collect();
    assert_eq!(written, expected);
}

#[test]
fn the_canary_scan_finds_markers_in_names_and_bytes() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    std::fs::create_dir_all(dir.path().join("cache/deep"))?;
    std::fs::write(
        dir.path().join("cache/deep/blob.bin"),
        b"\x00\x01 731224-2918361 \xff",
    )?;
    std::fs::write(dir.path().join("탁문휘.log"), b"nothing here")?;
    let utf16: Vec<u8> = "Ombrathwaite"
        .encode_utf16()
        .flat_map(u16::to_le_bytes)
        .collect();
    std::fs::write(dir.path().join("webview.db"), utf16)?;
    std::fs::create_dir_all(dir.path().join("indexes"))?;
    std::fs::write(dir.path().join("indexes/store"), "여솔빈")?;
    let mut hits = marker_hits(
        dir.path(),
        &needles(&MARKERS),
        &[dir.path().join("indexes")],
    );
    hits.sort();
    assert_eq!(hits.len(), 3, "{hits:#?}");
    assert!(hits[0].ends_with("blob.bin: 731224-2918361"), "{hits:#?}");
    assert!(
        hits[1].ends_with("webview.db: Ombrathwaite (UTF-16)"),
        "{hits:#?}"
    );
    assert!(hits[2].ends_with("탁문휘.log (name): 탁문휘"), "{hits:#?}");
    Ok(())
}
