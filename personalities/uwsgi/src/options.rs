//! uWSGI's options, from the command line, `--ini` files (and `.ini`
//! arguments) and `UWSGI_*` environment variables, all mapped onto one
//! [`Settings`] — as uWSGI exports every source into the same option
//! table.
//!
//! Command-line syntax is uWSGI's (getopt): `--name value`, `--name=value`,
//! short forms (`-s :3031`, `-p 4`, `-M`), flags without a value. An option
//! with an optional value (`--chmod-socket`) takes one only as
//! `--chmod-socket=660`. In ini files a flag is true unless its value is
//! `false`, `off`, `no` or `0`; keys that are not options are kept as
//! placeholders for `%(name)` (uWSGI does the same without `--strict`).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// What an option takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Takes {
    Flag,
    Value,
    /// A value only in `--name=value` form (getopt's optional argument).
    Optional,
}

/// `(long name, short letter, takes)`.
const OPTIONS: &[(&str, Option<char>, Takes)] = &[
    ("http", None, Takes::Value),
    ("http-socket", None, Takes::Value),
    ("https", None, Takes::Value),
    ("https-socket", None, Takes::Value),
    ("socket", Some('s'), Takes::Value),
    ("uwsgi-socket", None, Takes::Value),
    ("protocol", None, Takes::Value),
    ("module", Some('w'), Takes::Value),
    ("wsgi", None, Takes::Value),
    ("callable", None, Takes::Value),
    ("master", Some('M'), Takes::Flag),
    ("processes", Some('p'), Takes::Value),
    ("workers", None, Takes::Value),
    ("threads", None, Takes::Value),
    ("harakiri", Some('t'), Takes::Value),
    ("harakiri-verbose", None, Takes::Flag),
    ("buffer-size", Some('b'), Takes::Value),
    ("die-on-term", None, Takes::Flag),
    ("stats", None, Takes::Value),
    ("stats-server", None, Takes::Value),
    ("stats-http", None, Takes::Flag),
    ("ini", None, Takes::Value),
    ("chmod-socket", Some('C'), Takes::Optional),
    ("uid", None, Takes::Value),
    ("gid", None, Takes::Value),
    ("vacuum", None, Takes::Flag),
    ("max-requests", Some('R'), Takes::Value),
    ("lazy-apps", None, Takes::Flag),
    ("lazy", None, Takes::Flag),
    ("pidfile", None, Takes::Value),
    ("listen", Some('l'), Takes::Value),
    ("disable-logging", Some('L'), Takes::Flag),
    ("logto", None, Takes::Value),
    ("log-date", None, Takes::Flag),
    ("http-keepalive", None, Takes::Optional),
    ("reload-mercy", None, Takes::Value),
    ("worker-reload-mercy", None, Takes::Value),
    ("socket-timeout", Some('z'), Takes::Value),
    ("chdir", None, Takes::Value),
    ("env", None, Takes::Value),
    ("need-app", None, Takes::Flag),
    ("enable-threads", Some('T'), Takes::Flag),
    ("single-interpreter", Some('i'), Takes::Flag),
    ("plugin", None, Takes::Value),
    ("plugins", None, Takes::Value),
    ("strict", None, Takes::Flag),
    ("help", Some('h'), Takes::Flag),
    ("version", None, Takes::Flag),
    // rwsgi's own.
    ("backend", None, Takes::Value),
    ("engine", None, Takes::Value),
    ("io-threads", None, Takes::Value),
];

/// Every option, resolved.
#[derive(Clone, Debug)]
pub struct Settings {
    /// `--http`: HTTP on these addresses (rwsgi serves it itself; uWSGI
    /// starts a router process that forwards over the uwsgi protocol).
    pub http: Vec<String>,
    /// `--http-socket`: HTTP on these addresses.
    pub http_socket: Vec<String>,
    /// `--https`/`--https-socket`: HTTPS, each `ADDR,CERT,KEY[,CIPHERS[,CLIENT_CA]]`.
    pub https: Vec<String>,
    /// `--socket`/`--uwsgi-socket`: the uwsgi protocol on these addresses.
    pub socket: Vec<String>,
    /// `--protocol`: the protocol of `--socket` (`uwsgi` or `http`).
    pub protocol: String,
    /// `--module`/`-w`/`--wsgi`: the application (`module:callable`, or a
    /// module whose callable is `--callable`).
    pub module: Option<String>,
    /// `--callable` (default `application`).
    pub callable: String,
    /// `--master`.
    pub master: bool,
    /// `--processes`/`--workers` (default 1).
    pub processes: usize,
    /// `--threads` (default 1).
    pub threads: usize,
    /// `--harakiri` seconds (0: off).
    pub harakiri: u64,
    /// `--harakiri-verbose`.
    pub harakiri_verbose: bool,
    /// `--buffer-size` (default 4096, at most 65535).
    pub buffer_size: usize,
    /// `--die-on-term`.
    pub die_on_term: bool,
    /// `--stats`.
    pub stats: Option<String>,
    /// `--stats-http`.
    pub stats_http: bool,
    /// `--chmod-socket` mode for unix sockets.
    pub chmod_socket: Option<u32>,
    /// `--uid`.
    pub uid: Option<String>,
    /// `--gid`.
    pub gid: Option<String>,
    /// `--vacuum`.
    pub vacuum: bool,
    /// `--max-requests` (0: none).
    pub max_requests: u64,
    /// `--lazy-apps` / `--lazy`.
    pub lazy_apps: bool,
    /// `--pidfile`.
    pub pidfile: Option<PathBuf>,
    /// `--listen`: the socket backlog (default 100).
    pub listen: u32,
    /// `--disable-logging`: no request log lines.
    pub disable_logging: bool,
    /// `--logto`.
    pub logto: Option<PathBuf>,
    /// `--log-date`: a date before every log line.
    pub log_date: bool,
    /// `--http-keepalive[=SECS]`: keep HTTP connections open.
    pub http_keepalive: Option<u64>,
    /// `--reload-mercy`/`--worker-reload-mercy` seconds (default 60).
    pub reload_mercy: u64,
    /// `--socket-timeout` seconds (default 4).
    pub socket_timeout: u64,
    /// `--chdir`.
    pub chdir: Option<PathBuf>,
    /// `--env NAME=VALUE`.
    pub env: Vec<(String, String)>,
    /// `--need-app` (rwsgi always needs it: no app is a start-up error).
    pub need_app: bool,
    /// `--help`.
    pub help: bool,
    /// `--version`.
    pub version: bool,
    /// rwsgi: `--backend`.
    pub backend: Option<String>,
    /// rwsgi: `--engine` (for HTTP sockets).
    pub engine: Option<String>,
    /// rwsgi: `--io-threads` per worker (default 1).
    pub io_threads: usize,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            http: Vec::new(),
            http_socket: Vec::new(),
            https: Vec::new(),
            socket: Vec::new(),
            protocol: "uwsgi".into(),
            module: None,
            callable: "application".into(),
            master: false,
            processes: 1,
            threads: 1,
            harakiri: 0,
            harakiri_verbose: false,
            buffer_size: 4096,
            die_on_term: false,
            stats: None,
            stats_http: false,
            chmod_socket: None,
            uid: None,
            gid: None,
            vacuum: false,
            max_requests: 0,
            lazy_apps: false,
            pidfile: None,
            listen: 100,
            disable_logging: false,
            logto: None,
            log_date: false,
            http_keepalive: None,
            reload_mercy: 60,
            socket_timeout: 4,
            chdir: None,
            env: Vec::new(),
            need_app: false,
            help: false,
            version: false,
            backend: None,
            engine: None,
            io_threads: 1,
        }
    }
}

impl Settings {
    /// The application spec: `--module` as given when it names a
    /// callable, else `MODULE:CALLABLE`.
    pub fn app_spec(&self) -> Option<String> {
        let module = self.module.as_ref()?;
        Some(if module.contains(':') {
            module.clone()
        } else {
            format!("{module}:{}", self.callable)
        })
    }
}

/// Parses a command line (without the program name) and the environment's
/// `UWSGI_*` variables.
///
/// # Errors
///
/// uWSGI's message for an unknown option or a bad value.
pub fn parse_args(args: &[String], env: &[(String, String)]) -> Result<Settings, String> {
    let mut settings = Settings::default();
    let mut placeholders = HashMap::new();
    // The environment first: the command line overrides it.
    for (name, value) in env {
        if let Some(key) = name.strip_prefix("UWSGI_") {
            let key = key.to_ascii_lowercase().replace('_', "-");
            if lookup(&key).is_some() {
                apply(
                    &mut settings,
                    &mut placeholders,
                    &key,
                    Some(value),
                    Source::Environment,
                )?;
            }
        }
    }
    let mut i = 0;
    while i < args.len() {
        let arg = &args[i];
        i += 1;
        if let Some(long) = arg.strip_prefix("--") {
            let (name, inline) = match long.split_once('=') {
                Some((n, v)) => (n, Some(v.to_owned())),
                None => (long, None),
            };
            let Some((canonical, takes)) = lookup(name) else {
                return Err(format!("unrecognized option '--{name}'"));
            };
            let value = match (takes, inline) {
                (Takes::Flag, Some(_)) => {
                    return Err(format!("option '--{name}' doesn't allow an argument"));
                }
                (Takes::Flag, None) | (Takes::Optional, None) => None,
                (_, Some(v)) => Some(v),
                (Takes::Value, None) => {
                    let v = args
                        .get(i)
                        .ok_or_else(|| format!("option '--{name}' requires an argument"))?;
                    i += 1;
                    Some(v.clone())
                }
            };
            apply(
                &mut settings,
                &mut placeholders,
                canonical,
                value.as_deref(),
                Source::CommandLine,
            )?;
        } else if let Some(shorts) = arg.strip_prefix('-').filter(|s| !s.is_empty()) {
            for (at, letter) in shorts.char_indices() {
                let Some(&(canonical, _, takes)) = OPTIONS.iter().find(|(_, s, _)| *s == Some(letter)) else {
                    return Err(format!("invalid option -- '{letter}'"));
                };
                match takes {
                    Takes::Flag | Takes::Optional => {
                        apply(
                            &mut settings,
                            &mut placeholders,
                            canonical,
                            None,
                            Source::CommandLine,
                        )?;
                    }
                    Takes::Value => {
                        let rest = &shorts[at + letter.len_utf8()..];
                        let value = if rest.is_empty() {
                            let v = args
                                .get(i)
                                .ok_or_else(|| format!("option requires an argument -- '{letter}'"))?;
                            i += 1;
                            v.clone()
                        } else {
                            rest.to_owned()
                        };
                        apply(
                            &mut settings,
                            &mut placeholders,
                            canonical,
                            Some(&value),
                            Source::CommandLine,
                        )?;
                        break;
                    }
                }
            }
        } else if [arg.as_str(), arg.rsplit_once(':').map_or("", |(f, _)| f)]
            .iter()
            .any(|f| Path::new(f).extension().is_some_and(|e| e == "ini"))
        {
            // `uwsgi app.ini`: a config file by its extension.
            load_ini(&mut settings, &mut placeholders, arg)?;
        } else {
            return Err(format!(
                "unable to understand {arg:?}: uWSGI loads .ini files given as arguments; anything else needs an option"
            ));
        }
    }
    Ok(settings)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Source {
    CommandLine,
    Ini,
    Environment,
}

fn lookup(name: &str) -> Option<(&'static str, Takes)> {
    OPTIONS
        .iter()
        .find(|(n, _, _)| *n == name)
        .map(|(n, _, t)| (*n, *t))
}

fn apply(
    settings: &mut Settings,
    placeholders: &mut HashMap<String, String>,
    name: &str,
    value: Option<&str>,
    source: Source,
) -> Result<(), String> {
    if let Some(v) = value {
        placeholders.insert(name.to_owned(), v.to_owned());
    }
    let Some((name, takes)) = lookup(name) else {
        // In a config file: a placeholder, not an option.
        return if source == Source::Ini {
            Ok(())
        } else {
            Err(format!("unrecognized option '--{name}'"))
        };
    };
    let value_of = || -> Result<&str, String> {
        value
            .filter(|v| !v.is_empty() || takes != Takes::Value)
            .ok_or_else(|| format!("option '--{name}' requires an argument"))
    };
    let number = |what: &str| -> Result<u64, String> {
        let v = value_of()?;
        v.trim()
            .parse::<u64>()
            .map_err(|_| format!("--{what}: {v:?} is not a number"))
    };
    let flag = || match value {
        None => true,
        Some(v) => !matches!(
            v.trim().to_ascii_lowercase().as_str(),
            "false" | "off" | "no" | "0"
        ),
    };
    match name {
        "http" => settings.http.push(value_of()?.to_owned()),
        "http-socket" => settings.http_socket.push(value_of()?.to_owned()),
        "https" | "https-socket" => settings.https.push(value_of()?.to_owned()),
        "socket" | "uwsgi-socket" => settings.socket.push(value_of()?.to_owned()),
        "protocol" => {
            let v = value_of()?;
            if v != "uwsgi" && v != "http" {
                return Err(format!("--protocol {v}: rwsgi serves uwsgi and http"));
            }
            settings.protocol = v.to_owned();
        }
        "module" | "wsgi" => settings.module = Some(value_of()?.to_owned()),
        "callable" => settings.callable = value_of()?.to_owned(),
        "master" => settings.master = flag(),
        "processes" | "workers" => settings.processes = usize_of(number(name)?),
        "threads" => settings.threads = usize_of(number(name)?),
        "harakiri" => settings.harakiri = number(name)?,
        "harakiri-verbose" => settings.harakiri_verbose = flag(),
        "buffer-size" => {
            let n = number(name)?;
            if n > 65_535 {
                return Err(format!(
                    "--buffer-size {n}: at most 65535 (the uwsgi header's 16 bits)"
                ));
            }
            settings.buffer_size = usize_of(n);
        }
        "die-on-term" => settings.die_on_term = flag(),
        "stats" | "stats-server" => settings.stats = Some(value_of()?.to_owned()),
        "stats-http" => settings.stats_http = flag(),
        "ini" => {
            let file = value_of()?.to_owned();
            load_ini(settings, placeholders, &file)?;
        }
        "chmod-socket" => {
            settings.chmod_socket = Some(match value.map(str::trim).filter(|v| !v.is_empty()) {
                None => 0o666,
                Some(v) => {
                    u32::from_str_radix(v, 8).map_err(|_| format!("--chmod-socket {v}: not an octal mode"))?
                }
            });
        }
        "uid" => settings.uid = Some(value_of()?.to_owned()),
        "gid" => settings.gid = Some(value_of()?.to_owned()),
        "vacuum" => settings.vacuum = flag(),
        "max-requests" => settings.max_requests = number(name)?,
        "lazy-apps" | "lazy" => settings.lazy_apps = flag(),
        "pidfile" => settings.pidfile = Some(value_of()?.into()),
        "listen" => settings.listen = u32::try_from(number(name)?).unwrap_or(u32::MAX),
        "disable-logging" => settings.disable_logging = flag(),
        "logto" => settings.logto = Some(value_of()?.into()),
        "log-date" => settings.log_date = flag(),
        "http-keepalive" => {
            settings.http_keepalive = match value.map(str::trim).filter(|v| !v.is_empty()) {
                None => Some(4),
                Some(v) => Some(
                    v.parse()
                        .map_err(|_| format!("--http-keepalive {v}: not a number"))?,
                ),
            };
        }
        "reload-mercy" | "worker-reload-mercy" => settings.reload_mercy = number(name)?,
        "socket-timeout" => settings.socket_timeout = number(name)?,
        "chdir" => settings.chdir = Some(value_of()?.into()),
        "env" => {
            let v = value_of()?;
            let (k, val) = v.split_once('=').unwrap_or((v, ""));
            settings.env.push((k.to_owned(), val.to_owned()));
        }
        "need-app" => settings.need_app = flag(),
        "help" => settings.help = true,
        "version" => settings.version = true,
        "backend" => settings.backend = Some(value_of()?.to_owned()),
        "engine" => settings.engine = Some(value_of()?.to_owned()),
        "io-threads" => settings.io_threads = usize_of(number(name)?).max(1),
        // Accepted and without effect: threads are always enabled, there is
        // one application, and nothing is a plugin.
        "enable-threads" | "single-interpreter" | "plugin" | "plugins" | "strict" => {}
        other => unreachable!("option {other} is in the table"),
    }
    Ok(())
}

fn usize_of(n: u64) -> usize {
    usize::try_from(n).unwrap_or(usize::MAX)
}

/// Loads `FILE` or `FILE:SECTION` (default section `uwsgi`).
fn load_ini(
    settings: &mut Settings,
    placeholders: &mut HashMap<String, String>,
    spec: &str,
) -> Result<(), String> {
    let (file, section) = match spec.rsplit_once(':') {
        Some((f, s)) if !f.is_empty() && !s.contains('/') => (f, s),
        _ => (spec, "uwsgi"),
    };
    let text = std::fs::read_to_string(file).map_err(|err| format!("unable to read {file}: {err}"))?;
    let path = std::fs::canonicalize(file).unwrap_or_else(|_| PathBuf::from(file));
    let entries = parse_ini(&text, section, &path).map_err(|err| format!("{file}: {err}"))?;
    if entries.is_empty() && !text.lines().any(|l| l.trim() == format!("[{section}]")) {
        eprintln!("*** WARNING: Can't find section \"{section}\" in INI configuration file {file} ***");
    }
    for (key, value) in entries {
        let value = expand_placeholders(&value, placeholders);
        apply(settings, placeholders, &key, Some(&value), Source::Ini)?;
    }
    Ok(())
}

/// The `key = value` pairs of `section`, in order, with the file's magic
/// variables (`%d` its directory with a trailing slash, `%p` its path, `%s`
/// its name, `%n` its name without extension, `%e` its extension, `%c` its
/// directory's name, `%%` a percent sign) expanded. A pure function (for
/// tests and fuzzing).
///
/// # Errors
///
/// A line that opens a section without closing it.
pub fn parse_ini(text: &str, section: &str, path: &Path) -> Result<Vec<(String, String)>, String> {
    let mut current = String::new();
    let mut out = Vec::new();
    for (number, raw) in text.lines().enumerate() {
        let line = raw.trim_matches(|c| c == ' ' || c == '\t' || c == '\r');
        if line.is_empty() || line.starts_with(';') || line.starts_with('#') {
            continue;
        }
        if let Some(rest) = line.strip_prefix('[') {
            let name = rest
                .strip_suffix(']')
                .ok_or_else(|| format!("line {}: a section header must end with ']'", number + 1))?;
            current = name.to_owned();
            continue;
        }
        if current != section {
            continue;
        }
        // A line without '=' is a key with an empty value (a flag).
        let (key, value) = line.split_once('=').unwrap_or((line, ""));
        out.push((key.trim().to_owned(), magic(value.trim(), path)));
    }
    Ok(out)
}

fn magic(value: &str, path: &Path) -> String {
    if !value.contains('%') {
        return value.to_owned();
    }
    let dir = path
        .parent()
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_default();
    let name = path
        .file_name()
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_default();
    let stem = path
        .file_stem()
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_default();
    let ext = path
        .extension()
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_default();
    let parent = path
        .parent()
        .and_then(Path::file_name)
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut out = String::with_capacity(value.len());
    let mut chars = value.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        match chars.peek().copied() {
            Some('d') => out.push_str(&format!("{dir}/")),
            Some('p') => out.push_str(&path.to_string_lossy()),
            Some('s') => out.push_str(&name),
            Some('n') => out.push_str(&stem),
            Some('e') => out.push_str(&ext),
            Some('c') => out.push_str(&parent),
            Some('%') => out.push('%'),
            _ => {
                out.push('%');
                continue;
            }
        }
        chars.next();
    }
    out
}

/// `%(name)`: the value of an option or placeholder set earlier.
fn expand_placeholders(value: &str, placeholders: &HashMap<String, String>) -> String {
    let mut out = String::with_capacity(value.len());
    let mut rest = value;
    while let Some(at) = rest.find("%(") {
        out.push_str(&rest[..at]);
        let after = &rest[at + 2..];
        match after.find(')') {
            Some(end) => {
                let name = &after[..end];
                match placeholders.get(name) {
                    Some(v) => out.push_str(v),
                    None => out.push_str(&rest[at..at + 2 + end + 1]),
                }
                rest = &after[end + 1..];
            }
            None => {
                out.push_str(&rest[at..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn command_line_forms() {
        let s = parse_args(
            &args(&[
                "--http",
                "127.0.0.1:5000",
                "--module=demo:hello",
                "-M",
                "-p",
                "4",
                "--threads",
                "2",
                "-s",
                "/tmp/app.sock",
                "--chmod-socket=660",
                "--harakiri",
                "30",
                "-b",
                "32768",
                "--die-on-term",
                "--vacuum",
                "-R",
                "1000",
            ]),
            &[],
        )
        .unwrap();
        assert_eq!(s.http, ["127.0.0.1:5000"]);
        assert_eq!(s.app_spec().as_deref(), Some("demo:hello"));
        assert!(s.master && s.die_on_term && s.vacuum);
        assert_eq!((s.processes, s.threads, s.harakiri), (4, 2, 30));
        assert_eq!(s.socket, ["/tmp/app.sock"]);
        assert_eq!(s.chmod_socket, Some(0o660));
        assert_eq!((s.buffer_size, s.max_requests), (32768, 1000));
        let s = parse_args(&args(&["--chmod-socket", "-w", "myproject.wsgi"]), &[]).unwrap();
        assert_eq!(s.chmod_socket, Some(0o666));
        assert_eq!(s.app_spec().as_deref(), Some("myproject.wsgi:application"));
        let s = parse_args(&args(&["-Mp4"]), &[]).unwrap();
        assert!(s.master);
        assert_eq!(s.processes, 4);
    }

    #[test]
    fn refusals() {
        assert_eq!(
            parse_args(&args(&["--bogus"]), &[]).unwrap_err(),
            "unrecognized option '--bogus'"
        );
        assert!(
            parse_args(&args(&["--processes"]), &[])
                .unwrap_err()
                .contains("requires an argument")
        );
        assert!(
            parse_args(&args(&["--master=yes"]), &[])
                .unwrap_err()
                .contains("doesn't allow")
        );
        assert!(
            parse_args(&args(&["--buffer-size", "70000"]), &[])
                .unwrap_err()
                .contains("65535")
        );
        assert!(
            parse_args(&args(&["-Q"]), &[])
                .unwrap_err()
                .contains("invalid option")
        );
        assert!(parse_args(&args(&["app.py"]), &[]).is_err());
    }

    #[test]
    fn environment_is_read_first() {
        let env = [
            ("UWSGI_PROCESSES".to_owned(), "3".to_owned()),
            ("UWSGI_MASTER".to_owned(), "1".to_owned()),
            ("UWSGI_NOT_AN_OPTION".to_owned(), "x".to_owned()),
        ];
        let s = parse_args(&args(&["--processes", "5"]), &env).unwrap();
        assert_eq!(s.processes, 5);
        assert!(s.master);
    }

    #[test]
    fn ini_sections_magic_and_placeholders() {
        let text = "\
; a comment
[other]
processes = 9
[uwsgi]
# another
base = /srv
module = demo:hello
master = true
vacuum = false
processes = 2
socket = %(base)/app.sock
socket = 127.0.0.1:3031
logto = %dlog/%n.log
chmod-socket
  http-socket = :8000  \r
";
        let dir = std::env::temp_dir().join(format!("rwsgi-uwsgi-ini-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("site.ini");
        std::fs::write(&file, text).unwrap();
        let s = parse_args(&args(&["--ini", file.to_str().unwrap()]), &[]).unwrap();
        assert!(s.master && !s.vacuum);
        assert_eq!(s.processes, 2);
        assert_eq!(s.socket, ["/srv/app.sock", "127.0.0.1:3031"]);
        let dir_text = std::fs::canonicalize(&dir).unwrap();
        assert_eq!(s.logto, Some(dir_text.join("log/site.log")));
        assert_eq!(s.chmod_socket, Some(0o666));
        assert_eq!(s.http_socket, [":8000"]);
        // FILE:SECTION, and a .ini argument.
        let s = parse_args(&args(&[&format!("{}:other", file.display())]), &[]).unwrap();
        assert_eq!(s.processes, 9);
        let s = parse_args(&args(&[file.to_str().unwrap(), "--processes", "7"]), &[]).unwrap();
        assert_eq!(s.processes, 7);
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(parse_ini("[uwsgi\n", "uwsgi", Path::new("/x.ini")).is_err());
        assert_eq!(
            parse_ini("[uwsgi]\na = 100%%\n", "uwsgi", Path::new("/etc/x.ini")).unwrap(),
            [("a".to_owned(), "100%".to_owned())]
        );
    }
}
