//! gunicorn's settings: the command line, `GUNICORN_CMD_ARGS`, a TOML
//! config file, and the environment variables gunicorn reads (`PORT`,
//! `WEB_CONCURRENCY`, `FORWARDED_ALLOW_IPS`).
//!
//! As in gunicorn, later sources win: defaults, then the config file, then
//! `GUNICORN_CMD_ARGS`, then the command line.

use std::ffi::OsString;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use clap::{ArgAction, Parser};
use rwsgi_core::Engine;
use rwsgi_core::tls::{ClientAuth, TlsConfig};

use crate::glog::python_str_repr;

/// gunicorn's default `--access-logformat`.
pub const DEFAULT_ACCESS_LOG_FORMAT: &str = r#"%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s""#;

/// gunicorn's longest `--limit-request-line` (a larger value means this).
pub const MAX_REQUEST_LINE: usize = 8190;
/// gunicorn's largest `--limit-request-fields`.
pub const MAX_HEADERS: usize = 32768;

/// The file read when no `-c` is given, if it exists (gunicorn reads
/// `./gunicorn.conf.py`).
pub const DEFAULT_CONFIG_FILE: &str = "gunicorn.conf.toml";

/// `--proxy-protocol`: which PROXY protocol preambles are read.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ProxyProtocol {
    /// None (the default).
    #[default]
    Off,
    /// The text form only.
    V1,
    /// The binary form only.
    V2,
    /// Either (what `--proxy-protocol` alone means).
    Auto,
}

impl ProxyProtocol {
    /// The versions a worker accepts; `None` when off.
    pub(crate) fn versions(self) -> Option<rwsgi_core::proxy_protocol::ProxyVersions> {
        use rwsgi_core::proxy_protocol::ProxyVersions;
        match self {
            ProxyProtocol::Off => None,
            ProxyProtocol::V1 => Some(ProxyVersions::V1),
            ProxyProtocol::V2 => Some(ProxyVersions::V2),
            ProxyProtocol::Auto => Some(ProxyVersions::Any),
        }
    }

    fn name(self) -> &'static str {
        match self {
            ProxyProtocol::Off => "off",
            ProxyProtocol::V1 => "v1",
            ProxyProtocol::V2 => "v2",
            ProxyProtocol::Auto => "auto",
        }
    }
}

impl FromStr for ProxyProtocol {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "off" | "false" | "none" => Ok(ProxyProtocol::Off),
            "v1" => Ok(ProxyProtocol::V1),
            "v2" => Ok(ProxyProtocol::V2),
            "auto" | "true" => Ok(ProxyProtocol::Auto),
            other => Err(format!(
                "invalid proxy protocol {other:?}: expected off, v1, v2 or auto"
            )),
        }
    }
}

/// A worker class (`-k`), as gunicorn names them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WorkerClass {
    /// One request at a time per worker.
    Sync,
    /// A pool of `--threads` threads per worker.
    Gthread,
    /// gevent, eventlet, tornado, async: the application inline on the
    /// worker's event loop.
    Inline(&'static str),
}

impl WorkerClass {
    /// The class for a `-k` value and `--threads` (gunicorn runs `sync`
    /// with more than one thread as `gthread`).
    ///
    /// # Errors
    ///
    /// An unknown class, with gunicorn's message.
    pub fn resolve(name: &str, threads: usize) -> Result<WorkerClass, String> {
        let class = match name.trim() {
            "sync" | "gunicorn.workers.sync.SyncWorker" => WorkerClass::Sync,
            "gthread" | "gunicorn.workers.gthread.ThreadWorker" => WorkerClass::Gthread,
            "gevent" | "gunicorn.workers.ggevent.GeventWorker" => WorkerClass::Inline("gevent"),
            "eventlet" | "gunicorn.workers.geventlet.EventletWorker" => WorkerClass::Inline("eventlet"),
            "tornado" | "gunicorn.workers.gtornado.TornadoWorker" => WorkerClass::Inline("tornado"),
            "async" => WorkerClass::Inline("async"),
            other => {
                return Err(format!(
                    "class uri {other:?} invalid or not found: \n\n[the worker classes are sync, gthread, gevent, eventlet, tornado and async]"
                ));
            }
        };
        Ok(match class {
            WorkerClass::Sync if threads > 1 => WorkerClass::Gthread,
            class => class,
        })
    }

    /// The name gunicorn logs (`Using worker: gthread`).
    pub fn name(self) -> &'static str {
        match self {
            WorkerClass::Sync => "sync",
            WorkerClass::Gthread => "gthread",
            WorkerClass::Inline(name) => name,
        }
    }
}

/// Every setting, resolved. Field names are gunicorn's setting names (the
/// names a `gunicorn.conf.py` uses, and the keys of the TOML file).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Settings {
    /// `-c/--config`: the TOML config file read, if any.
    pub config: Option<PathBuf>,
    /// The application spec (`APP_MODULE`, or `wsgi_app` in the file).
    pub wsgi_app: Option<String>,
    /// `-b/--bind`.
    pub bind: Vec<String>,
    /// `--backlog`.
    pub backlog: u32,
    /// `-w/--workers`.
    pub workers: usize,
    /// `-k/--worker-class`.
    pub worker_class: String,
    /// `--threads`.
    pub threads: usize,
    /// `--worker-connections`.
    pub worker_connections: usize,
    /// `--max-requests`.
    pub max_requests: u64,
    /// `--max-requests-jitter`.
    pub max_requests_jitter: u64,
    /// `-t/--timeout`, seconds; 0 disables.
    pub timeout: u64,
    /// `--graceful-timeout`, seconds.
    pub graceful_timeout: u64,
    /// `--keep-alive`, seconds (`keepalive` in the file).
    pub keepalive: u64,
    /// `--limit-request-line`.
    pub limit_request_line: usize,
    /// `--limit-request-fields`.
    pub limit_request_fields: usize,
    /// `--limit-request-field_size`.
    pub limit_request_field_size: usize,
    /// `--check-config`.
    pub check_config: bool,
    /// `--print-config`.
    pub print_config: bool,
    /// `--preload` (`preload_app`).
    pub preload_app: bool,
    /// `--reuse-port`.
    pub reuse_port: bool,
    /// `--chdir`.
    pub chdir: PathBuf,
    /// `-D/--daemon`.
    pub daemon: bool,
    /// `-e/--env` (`raw_env`): `KEY=VALUE` set in the workers' environment.
    pub raw_env: Vec<String>,
    /// `-p/--pid` (`pidfile`).
    pub pidfile: Option<PathBuf>,
    /// `--worker-tmp-dir`.
    pub worker_tmp_dir: Option<PathBuf>,
    /// `-u/--user`, as a uid (`None`: unchanged).
    pub user: Option<u32>,
    /// `-g/--group`, as a gid (`None`: unchanged).
    pub group: Option<u32>,
    /// `-m/--umask`.
    pub umask: u32,
    /// `--initgroups`.
    pub initgroups: bool,
    /// `--forwarded-allow-ips`.
    pub forwarded_allow_ips: String,
    /// `secure_scheme_headers` (file only): header → value meaning https.
    pub secure_scheme_headers: Vec<(String, String)>,
    /// `--access-logfile` (`accesslog`).
    pub accesslog: Option<String>,
    /// `--access-logformat` (`access_log_format`).
    pub access_log_format: String,
    /// `--error-logfile`/`--log-file` (`errorlog`).
    pub errorlog: String,
    /// `--log-level` (`loglevel`).
    pub loglevel: String,
    /// `--proxy-protocol`.
    pub proxy_protocol: ProxyProtocol,
    /// `--proxy-allow-from` (`proxy_allow_ips`).
    pub proxy_allow_ips: String,
    /// `--certfile`: TLS on every bind with this certificate chain.
    pub certfile: Option<PathBuf>,
    /// `--keyfile`: its private key.
    pub keyfile: Option<PathBuf>,
    /// `--ca-certs`: CA certificates client certificates must chain to.
    pub ca_certs: Option<PathBuf>,
    /// `--cert-reqs`: 0 none, 1 optional, 2 required (default 0).
    pub cert_reqs: u8,
    /// `--ssl-version`: only the default (TLS, negotiated) is served.
    pub ssl_version: String,
    /// `--ciphers`: refused (OpenSSL's syntax; rustls chooses its suites).
    pub ciphers: Option<String>,
    /// `--do-handshake-on-connect` (rwsgi always handshakes on accept).
    pub do_handshake_on_connect: bool,
    /// `--suppress-ragged-eofs` (default true).
    pub suppress_ragged_eofs: bool,
    /// rwsgi's `--backend`: the runtime of each worker.
    pub backend: Option<String>,
    /// rwsgi's `--engine`: the HTTP engine of each worker.
    pub engine: Option<Engine>,
    /// rwsgi's `--io-threads`: event-loop threads per worker (default 1).
    pub io_threads: Option<usize>,
    /// rwsgi's `--header-read-timeout`: seconds a request head may take
    /// (gunicorn has none: slowloris holds a sync worker forever) [30].
    pub header_read_timeout: u64,
    /// rwsgi's `--write-timeout`: seconds one write may wait for a client
    /// that does not read [30].
    pub write_timeout: u64,
}

impl Settings {
    /// gunicorn's defaults, with `PORT`, `WEB_CONCURRENCY` and
    /// `FORWARDED_ALLOW_IPS` read from `env` as gunicorn reads them.
    pub fn defaults(env: &dyn Fn(&str) -> Option<String>) -> Settings {
        let bind = match env("PORT") {
            Some(port) => format!("0.0.0.0:{port}"),
            None => "127.0.0.1:8000".to_owned(),
        };
        Settings {
            config: None,
            wsgi_app: None,
            bind: vec![bind],
            backlog: 2048,
            workers: env("WEB_CONCURRENCY")
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(1),
            worker_class: "sync".into(),
            threads: 1,
            worker_connections: 1000,
            max_requests: 0,
            max_requests_jitter: 0,
            timeout: 30,
            graceful_timeout: 30,
            keepalive: 2,
            limit_request_line: 4094,
            limit_request_fields: 100,
            limit_request_field_size: 8190,
            check_config: false,
            print_config: false,
            preload_app: false,
            reuse_port: false,
            chdir: std::env::current_dir().unwrap_or_else(|_| PathBuf::from(".")),
            daemon: false,
            raw_env: Vec::new(),
            pidfile: None,
            worker_tmp_dir: None,
            user: None,
            group: None,
            umask: 0,
            initgroups: false,
            forwarded_allow_ips: env("FORWARDED_ALLOW_IPS").unwrap_or_else(|| "127.0.0.1,::1".into()),
            secure_scheme_headers: vec![
                ("X-FORWARDED-PROTOCOL".into(), "ssl".into()),
                ("X-FORWARDED-PROTO".into(), "https".into()),
                ("X-FORWARDED-SSL".into(), "on".into()),
            ],
            accesslog: None,
            access_log_format: DEFAULT_ACCESS_LOG_FORMAT.into(),
            errorlog: "-".into(),
            loglevel: "info".into(),
            proxy_protocol: ProxyProtocol::Off,
            proxy_allow_ips: "127.0.0.1,::1".into(),
            certfile: None,
            keyfile: None,
            ca_certs: None,
            cert_reqs: 0,
            ssl_version: "2".into(),
            ciphers: None,
            do_handshake_on_connect: false,
            suppress_ragged_eofs: true,
            backend: None,
            engine: None,
            io_threads: None,
            header_read_timeout: 30,
            write_timeout: 30,
        }
    }

    /// The worker class these settings select.
    ///
    /// # Errors
    ///
    /// An unknown class.
    pub fn worker_class(&self) -> Result<WorkerClass, String> {
        WorkerClass::resolve(&self.worker_class, self.threads)
    }

    /// The TLS of every bind, from `--certfile` and friends.
    ///
    /// # Errors
    ///
    /// A key without a certificate or the reverse; an `--ssl-version` or
    /// `--ciphers` that rustls cannot honour, with why.
    pub fn tls(&self) -> Result<Option<TlsConfig>, String> {
        if !matches!(
            self.ssl_version.to_ascii_uppercase().as_str(),
            "2" | "17"
                | "TLS"
                | "TLS_SERVER"
                | "PROTOCOL_TLS"
                | "PROTOCOL_TLS_SERVER"
                | "_SSLMETHOD.PROTOCOL_TLS"
        ) {
            return Err(format!(
                "ssl_version {:?}: rwsgi (rustls) negotiates TLS 1.2 or 1.3 and cannot pin a version; leave it unset",
                self.ssl_version
            ));
        }
        if let Some(ciphers) = self.ciphers.as_deref().filter(|c| !c.is_empty()) {
            return Err(format!(
                "ciphers {ciphers:?}: a cipher list is OpenSSL's; rwsgi (rustls) chooses its cipher suites itself"
            ));
        }
        let auth = ClientAuth::from_cert_reqs(self.cert_reqs)?;
        let (_, tls) = rwsgi_core::tls::from_flags(
            &[],
            self.certfile.as_deref(),
            self.keyfile.as_deref(),
            self.ca_certs.as_deref(),
            auth,
        )?;
        Ok(tls)
    }

    /// `--print-config`: every setting as `name = value`, sorted, names
    /// padded as gunicorn pads them.
    pub fn print(&self) -> String {
        let opt = |v: &Option<String>| v.clone().unwrap_or_else(|| "None".to_owned());
        let path = |v: &Option<PathBuf>| {
            v.as_ref()
                .map_or_else(|| "None".to_owned(), |p| p.display().to_string())
        };
        let list = |items: &[String]| {
            let mut out = String::from("[");
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                python_str_repr(&mut out, item);
            }
            out.push(']');
            out
        };
        let flag = |b: bool| if b { "True" } else { "False" }.to_owned();
        let mut headers = String::from("{");
        for (i, (k, v)) in self.secure_scheme_headers.iter().enumerate() {
            if i > 0 {
                headers.push_str(", ");
            }
            python_str_repr(&mut headers, k);
            headers.push_str(": ");
            python_str_repr(&mut headers, v);
        }
        headers.push('}');
        let mut rows: Vec<(&str, String)> = vec![
            ("access_log_format", self.access_log_format.clone()),
            ("accesslog", opt(&self.accesslog)),
            ("backend", opt(&self.backend)),
            ("backlog", self.backlog.to_string()),
            ("bind", list(&self.bind)),
            ("chdir", self.chdir.display().to_string()),
            ("check_config", flag(self.check_config)),
            ("config", path(&self.config)),
            ("daemon", flag(self.daemon)),
            (
                "engine",
                self.engine.map_or_else(|| "None".to_owned(), |e| e.to_string()),
            ),
            ("errorlog", self.errorlog.clone()),
            (
                "forwarded_allow_ips",
                list(&split_list(&self.forwarded_allow_ips)),
            ),
            ("graceful_timeout", self.graceful_timeout.to_string()),
            (
                "group",
                self.group
                    .unwrap_or_else(|| nix::unistd::getegid().as_raw())
                    .to_string(),
            ),
            ("initgroups", flag(self.initgroups)),
            (
                "io_threads",
                self.io_threads
                    .map_or_else(|| "None".to_owned(), |n| n.to_string()),
            ),
            ("header_read_timeout", self.header_read_timeout.to_string()),
            ("keepalive", self.keepalive.to_string()),
            (
                "limit_request_field_size",
                self.limit_request_field_size.to_string(),
            ),
            ("limit_request_fields", self.limit_request_fields.to_string()),
            ("limit_request_line", self.limit_request_line.to_string()),
            ("loglevel", self.loglevel.clone()),
            ("max_requests", self.max_requests.to_string()),
            ("max_requests_jitter", self.max_requests_jitter.to_string()),
            ("pidfile", path(&self.pidfile)),
            ("preload_app", flag(self.preload_app)),
            ("print_config", flag(self.print_config)),
            ("proxy_allow_ips", list(&split_list(&self.proxy_allow_ips))),
            ("ca_certs", path(&self.ca_certs)),
            ("cert_reqs", self.cert_reqs.to_string()),
            ("certfile", path(&self.certfile)),
            ("ciphers", opt(&self.ciphers)),
            ("do_handshake_on_connect", flag(self.do_handshake_on_connect)),
            ("keyfile", path(&self.keyfile)),
            ("ssl_version", self.ssl_version.clone()),
            ("suppress_ragged_eofs", flag(self.suppress_ragged_eofs)),
            ("proxy_protocol", self.proxy_protocol.name().to_owned()),
            ("raw_env", list(&self.raw_env)),
            ("reuse_port", flag(self.reuse_port)),
            ("secure_scheme_headers", headers),
            ("threads", self.threads.to_string()),
            ("timeout", self.timeout.to_string()),
            ("umask", self.umask.to_string()),
            (
                "user",
                self.user
                    .unwrap_or_else(|| nix::unistd::geteuid().as_raw())
                    .to_string(),
            ),
            ("worker_class", self.worker_class.clone()),
            ("worker_connections", self.worker_connections.to_string()),
            ("worker_tmp_dir", path(&self.worker_tmp_dir)),
            ("workers", self.workers.to_string()),
            ("wsgi_app", opt(&self.wsgi_app)),
        ];
        rows.sort_by(|a, b| a.0.cmp(b.0));
        let width = rows.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
        let mut out = String::new();
        for (k, v) in rows {
            let _ = writeln!(out, "{k:width$} = {v}");
        }
        out
    }

    /// Sets one setting from a TOML value (the config file).
    fn set_toml(&mut self, key: &str, value: &toml::Value) -> Result<(), String> {
        let bad = |what: &str| format!("{key}: expected {what}, got a {}", value.type_str());
        let int = || -> Result<u64, String> {
            match value {
                toml::Value::Integer(n) if *n >= 0 => Ok(u64::try_from(*n).map_err(|_| bad("an integer"))?),
                toml::Value::Integer(n) => Err(format!("{key}: Value must be positive: {n}")),
                toml::Value::String(s) => parse_pos_int(s).map_err(|e| format!("{key}: {e}")),
                _ => Err(bad("a positive integer")),
            }
        };
        let usize_ = || int().and_then(|n| usize::try_from(n).map_err(|_| bad("a smaller integer")));
        let string = || match value {
            toml::Value::String(s) => Ok(s.trim().to_owned()),
            _ => Err(bad("a string")),
        };
        let boolean = || match value {
            toml::Value::Boolean(b) => Ok(*b),
            toml::Value::String(s) if s.trim().eq_ignore_ascii_case("true") => Ok(true),
            toml::Value::String(s) if s.trim().eq_ignore_ascii_case("false") => Ok(false),
            _ => Err(bad("true or false")),
        };
        let strings = || match value {
            toml::Value::String(s) => Ok(vec![s.trim().to_owned()]),
            toml::Value::Array(items) => items
                .iter()
                .map(|item| match item {
                    toml::Value::String(s) => Ok(s.trim().to_owned()),
                    _ => Err(bad("a list of strings")),
                })
                .collect(),
            _ => Err(bad("a string or a list of strings")),
        };
        let comma_list = || match value {
            toml::Value::Array(_) => strings().map(|v| v.join(",")),
            _ => string(),
        };
        match key {
            "bind" => self.bind = strings()?,
            "backlog" => self.backlog = u32::try_from(int()?).map_err(|_| bad("a smaller integer"))?,
            "workers" => self.workers = usize_()?,
            "worker_class" => self.worker_class = string()?,
            "threads" => self.threads = usize_()?,
            "worker_connections" => self.worker_connections = usize_()?,
            "max_requests" => self.max_requests = int()?,
            "max_requests_jitter" => self.max_requests_jitter = int()?,
            "timeout" => self.timeout = int()?,
            "graceful_timeout" => self.graceful_timeout = int()?,
            "keepalive" => self.keepalive = int()?,
            "limit_request_line" => self.limit_request_line = usize_()?,
            "limit_request_fields" => self.limit_request_fields = usize_()?,
            "limit_request_field_size" => self.limit_request_field_size = usize_()?,
            "check_config" => self.check_config = boolean()?,
            "print_config" => self.print_config = boolean()?,
            "preload_app" => self.preload_app = boolean()?,
            "reuse_port" => self.reuse_port = boolean()?,
            "chdir" => self.chdir = PathBuf::from(string()?),
            "daemon" => self.daemon = boolean()?,
            "raw_env" => self.raw_env = strings()?,
            "pidfile" => self.pidfile = Some(PathBuf::from(string()?)),
            "worker_tmp_dir" => self.worker_tmp_dir = Some(PathBuf::from(string()?)),
            "user" => {
                self.user = Some(match value {
                    toml::Value::Integer(_) => u32::try_from(int()?).map_err(|_| bad("a uid"))?,
                    _ => resolve_user(&string()?)?,
                });
            }
            "group" => {
                self.group = Some(match value {
                    toml::Value::Integer(_) => u32::try_from(int()?).map_err(|_| bad("a gid"))?,
                    _ => resolve_group(&string()?)?,
                });
            }
            "umask" => {
                self.umask = match value {
                    toml::Value::String(s) => parse_auto_int(s)?,
                    _ => u32::try_from(int()?).map_err(|_| bad("a umask"))?,
                };
            }
            "initgroups" => self.initgroups = boolean()?,
            "forwarded_allow_ips" => self.forwarded_allow_ips = comma_list()?,
            "secure_scheme_headers" => {
                let toml::Value::Table(table) = value else {
                    return Err(bad("a table of header = value"));
                };
                self.secure_scheme_headers = table
                    .iter()
                    .map(|(k, v)| match v {
                        toml::Value::String(s) => Ok((k.to_ascii_uppercase(), s.clone())),
                        _ => Err(bad("a table of header = value")),
                    })
                    .collect::<Result<_, _>>()?;
            }
            "accesslog" => self.accesslog = Some(string()?),
            "access_log_format" => self.access_log_format = string()?,
            "errorlog" => self.errorlog = string()?,
            "loglevel" => self.loglevel = string()?,
            "proxy_protocol" => {
                self.proxy_protocol = match value {
                    toml::Value::Boolean(true) => ProxyProtocol::Auto,
                    toml::Value::Boolean(false) => ProxyProtocol::Off,
                    _ => string()?.parse()?,
                };
            }
            "proxy_allow_ips" => self.proxy_allow_ips = comma_list()?,
            "certfile" => self.certfile = Some(PathBuf::from(string()?)),
            "keyfile" => self.keyfile = Some(PathBuf::from(string()?)),
            "ca_certs" => self.ca_certs = Some(PathBuf::from(string()?)),
            "cert_reqs" => self.cert_reqs = u8::try_from(int()?).map_err(|_| bad("0, 1 or 2"))?,
            "ssl_version" => {
                self.ssl_version = match value {
                    toml::Value::Integer(n) => n.to_string(),
                    _ => string()?,
                };
            }
            "ciphers" => self.ciphers = Some(string()?),
            "do_handshake_on_connect" => self.do_handshake_on_connect = boolean()?,
            "suppress_ragged_eofs" => self.suppress_ragged_eofs = boolean()?,
            "backend" => self.backend = Some(string()?),
            "engine" => self.engine = Some(string()?.parse()?),
            "io_threads" => self.io_threads = Some(usize_()?),
            "header_read_timeout" => self.header_read_timeout = int()?,
            "write_timeout" => self.write_timeout = int()?,
            "wsgi_app" => self.wsgi_app = Some(string()?),
            other => return Err(format!("unknown setting {other:?}")),
        }
        Ok(())
    }

    /// Applies a command line (or `GUNICORN_CMD_ARGS`): the options given
    /// replace what came before.
    fn apply_cli(&mut self, cli: &Cli) -> Result<(), String> {
        if !cli.bind.is_empty() {
            self.bind.clone_from(&cli.bind);
        }
        macro_rules! set {
            ($($field:ident),*) => {$(
                if let Some(v) = &cli.$field {
                    self.$field = v.clone();
                }
            )*};
        }
        set!(
            backlog,
            workers,
            worker_class,
            threads,
            worker_connections,
            max_requests,
            max_requests_jitter,
            timeout,
            graceful_timeout,
            keepalive,
            limit_request_line,
            limit_request_fields,
            limit_request_field_size,
            chdir,
            umask,
            forwarded_allow_ips,
            access_log_format,
            errorlog,
            loglevel,
            proxy_protocol,
            proxy_allow_ips
        );
        macro_rules! set_some {
            ($($field:ident),*) => {$(
                if let Some(v) = &cli.$field {
                    self.$field = Some(v.clone());
                }
            )*};
        }
        set_some!(
            pidfile,
            worker_tmp_dir,
            accesslog,
            backend,
            engine,
            io_threads,
            certfile,
            keyfile,
            ca_certs,
            ciphers
        );
        if let Some(n) = cli.header_read_timeout {
            self.header_read_timeout = n;
        }
        if let Some(n) = cli.write_timeout {
            self.write_timeout = n;
        }
        if let Some(n) = cli.cert_reqs {
            self.cert_reqs = n;
        }
        if let Some(v) = &cli.ssl_version {
            self.ssl_version.clone_from(v);
        }
        if let Some(v) = cli.suppress_ragged_eofs {
            self.suppress_ragged_eofs = v;
        }
        if let Some(user) = &cli.user {
            self.user = Some(resolve_user(user)?);
        }
        if let Some(group) = &cli.group {
            self.group = Some(resolve_group(group)?);
        }
        macro_rules! set_flag {
            ($($field:ident),*) => {$(
                if cli.$field {
                    self.$field = true;
                }
            )*};
        }
        set_flag!(
            check_config,
            print_config,
            preload_app,
            reuse_port,
            daemon,
            initgroups,
            do_handshake_on_connect
        );
        if !cli.raw_env.is_empty() {
            self.raw_env.clone_from(&cli.raw_env);
        }
        Ok(())
    }
}

/// Loads the TLS files `settings` name, to report a wrong one at start
/// (or at a reload) rather than in every worker.
///
/// # Errors
///
/// The error that names the file.
pub fn check_tls(settings: &Settings) -> Result<(), String> {
    let mut config = rwsgi_core::Config::default();
    config.tls = settings.tls()?;
    rwsgi_core::tls::load_for(&config)
        .map(drop)
        .map_err(|e| e.to_string())
}

fn split_list(list: &str) -> Vec<String> {
    list.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Python's `int(x, 0)`-ish: `0x1F`, `0o22`, `022` (octal, as gunicorn's
/// `auto_int` reads it) or decimal.
fn parse_auto_int(s: &str) -> Result<u32, String> {
    let s = s.trim();
    let err = || format!("invalid int value: {s:?}");
    if let Some(hex) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        return u32::from_str_radix(hex, 16).map_err(|_| err());
    }
    if let Some(oct) = s.strip_prefix("0o").or_else(|| s.strip_prefix("0O")) {
        return u32::from_str_radix(oct, 8).map_err(|_| err());
    }
    if s.len() > 1 && s.starts_with('0') {
        return u32::from_str_radix(&s[1..], 8).map_err(|_| err());
    }
    s.parse().map_err(|_| err())
}

fn parse_pos_int(s: &str) -> Result<u64, String> {
    let s = s.trim();
    if let Some(neg) = s.strip_prefix('-') {
        return Err(format!("Value must be positive: -{neg}"));
    }
    s.parse().map_err(|_| format!("invalid int value: {s:?}"))
}

fn clap_pos_int<T: TryFrom<u64>>(s: &str) -> Result<T, String> {
    let n = parse_pos_int(s)?;
    T::try_from(n).map_err(|_| format!("{n} is too large"))
}

fn resolve_user(name: &str) -> Result<u32, String> {
    if let Ok(uid) = name.parse::<u32>() {
        return Ok(uid);
    }
    match nix::unistd::User::from_name(name) {
        Ok(Some(user)) => Ok(user.uid.as_raw()),
        _ => Err(format!("No such user: '{name}'")),
    }
}

fn resolve_group(name: &str) -> Result<u32, String> {
    if let Ok(gid) = name.parse::<u32>() {
        return Ok(gid);
    }
    match nix::unistd::Group::from_name(name) {
        Ok(Some(group)) => Ok(group.gid.as_raw()),
        _ => Err(format!("No such group: '{name}'")),
    }
}

/// gunicorn's command line. Options are `Option`s so that only those given
/// override the config file and `GUNICORN_CMD_ARGS`.
#[derive(Parser, Debug, Default)]
#[command(
    version,
    disable_version_flag = true,
    about = "gunicorn's command line, serving an rwsgi application with pre-forked workers.",
    override_usage = "gunicorn [OPTIONS] [APP_MODULE]",
    after_help = "APP_MODULE is a registered spec: module:app or module:create_app(). \
                  Defaults are gunicorn's; GUNICORN_CMD_ARGS, PORT, WEB_CONCURRENCY and \
                  FORWARDED_ALLOW_IPS are read as gunicorn reads them."
)]
pub(crate) struct Cli {
    /// show program's version number and exit
    #[arg(short = 'v', long = "version", action = ArgAction::Version)]
    version: Option<bool>,
    /// The config file (TOML) [./gunicorn.conf.toml]
    #[arg(short = 'c', long = "config", value_name = "CONFIG")]
    pub(crate) config: Option<PathBuf>,
    /// The socket to bind: HOST, HOST:PORT, [IPv6]:PORT, unix:PATH or fd://FD (repeatable) [['127.0.0.1:8000']]
    #[arg(short = 'b', long = "bind", value_name = "ADDRESS")]
    bind: Vec<String>,
    /// The maximum number of pending connections [2048]
    #[arg(long, value_name = "INT", value_parser = clap_pos_int::<u32>)]
    backlog: Option<u32>,
    /// The number of worker processes for handling requests [1]
    #[arg(short = 'w', long = "workers", value_name = "INT", value_parser = clap_pos_int::<usize>)]
    workers: Option<usize>,
    /// The type of workers to use: sync, gthread, gevent, eventlet, tornado, async [sync]
    #[arg(short = 'k', long = "worker-class", value_name = "STRING")]
    worker_class: Option<String>,
    /// The number of worker threads for handling requests [1]
    #[arg(long, value_name = "INT", value_parser = clap_pos_int::<usize>)]
    threads: Option<usize>,
    /// The maximum number of simultaneous clients [1000]
    #[arg(long = "worker-connections", value_name = "INT", value_parser = clap_pos_int::<usize>)]
    worker_connections: Option<usize>,
    /// The maximum number of requests a worker will process before restarting [0]
    #[arg(long = "max-requests", value_name = "INT", value_parser = clap_pos_int::<u64>)]
    max_requests: Option<u64>,
    /// The maximum jitter to add to the max_requests setting [0]
    #[arg(long = "max-requests-jitter", value_name = "INT", value_parser = clap_pos_int::<u64>)]
    max_requests_jitter: Option<u64>,
    /// Workers silent for more than this many seconds are killed and restarted [30]
    #[arg(short = 't', long = "timeout", value_name = "INT", value_parser = clap_pos_int::<u64>)]
    timeout: Option<u64>,
    /// Timeout for graceful workers restart [30]
    #[arg(long = "graceful-timeout", value_name = "INT", value_parser = clap_pos_int::<u64>)]
    graceful_timeout: Option<u64>,
    /// The number of seconds to wait for requests on a Keep-Alive connection [2]
    #[arg(long = "keep-alive", value_name = "INT", value_parser = clap_pos_int::<u64>)]
    keepalive: Option<u64>,
    /// The maximum size of HTTP request line in bytes [4094]
    #[arg(long = "limit-request-line", value_name = "INT", value_parser = clap_pos_int::<usize>)]
    limit_request_line: Option<usize>,
    /// Limit the number of HTTP headers fields in a request [100]
    #[arg(long = "limit-request-fields", value_name = "INT", value_parser = clap_pos_int::<usize>)]
    limit_request_fields: Option<usize>,
    /// Limit the allowed size of an HTTP request header field [8190]
    #[arg(long = "limit-request-field_size", value_name = "INT", value_parser = clap_pos_int::<usize>)]
    limit_request_field_size: Option<usize>,
    /// Check the configuration and exit [False]
    #[arg(long = "check-config")]
    check_config: bool,
    /// Print the configuration settings as fully resolved; implies --check-config [False]
    #[arg(long = "print-config")]
    print_config: bool,
    /// Load application code before the worker processes are forked [False]
    #[arg(long = "preload")]
    preload_app: bool,
    /// Set the SO_REUSEPORT flag on the listening socket [False]
    #[arg(long = "reuse-port")]
    reuse_port: bool,
    /// Change directory to specified directory before loading apps ['.']
    #[arg(long = "chdir", value_name = "CHDIR")]
    chdir: Option<PathBuf>,
    /// Daemonize the Gunicorn process [False]
    #[arg(short = 'D', long = "daemon")]
    daemon: bool,
    /// Set environment variables in the execution environment (KEY=VALUE, repeatable) [[]]
    #[arg(short = 'e', long = "env", value_name = "ENV")]
    raw_env: Vec<String>,
    /// A filename to use for the PID file [None]
    #[arg(short = 'p', long = "pid", value_name = "FILE")]
    pidfile: Option<PathBuf>,
    /// A directory to use for the worker heartbeat temporary file [None]
    #[arg(long = "worker-tmp-dir", value_name = "DIR")]
    worker_tmp_dir: Option<PathBuf>,
    /// Switch worker processes to run as this user [os.geteuid()]
    #[arg(short = 'u', long = "user", value_name = "USER")]
    user: Option<String>,
    /// Switch worker process to run as this group [os.getegid()]
    #[arg(short = 'g', long = "group", value_name = "GROUP")]
    group: Option<String>,
    /// A bit mask for the file mode on files written by Gunicorn [0]
    #[arg(short = 'm', long = "umask", value_name = "INT", value_parser = parse_auto_int)]
    umask: Option<u32>,
    /// Set the worker process's group access list with all of the user's groups [False]
    #[arg(long = "initgroups")]
    initgroups: bool,
    /// Front-end's IPs from which allowed to handle set secure headers (comma separated) ['127.0.0.1,::1']
    #[arg(long = "forwarded-allow-ips", value_name = "STRING")]
    forwarded_allow_ips: Option<String>,
    /// The Access log file to write to; '-' means stdout [None]
    #[arg(long = "access-logfile", value_name = "FILE")]
    accesslog: Option<String>,
    /// The access log format [%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s"]
    #[arg(long = "access-logformat", value_name = "STRING")]
    access_log_format: Option<String>,
    /// The Error log file to write to; '-' means stderr ['-']
    #[arg(long = "error-logfile", visible_alias = "log-file", value_name = "FILE")]
    errorlog: Option<String>,
    /// The granularity of Error log outputs: debug, info, warning, error, critical [info]
    #[arg(long = "log-level", value_name = "LEVEL")]
    loglevel: Option<String>,
    /// Enable detect PROXY protocol: off, v1, v2 or auto (alone: auto) [off]
    #[arg(
        long = "proxy-protocol",
        value_name = "MODE",
        num_args = 0..=1,
        default_missing_value = "auto",
        value_parser = ProxyProtocol::from_str
    )]
    proxy_protocol: Option<ProxyProtocol>,
    /// Front-end's IPs from which allowed accept proxy requests (comma separated) ['127.0.0.1,::1']
    #[arg(long = "proxy-allow-from", value_name = "STRING")]
    proxy_allow_ips: Option<String>,
    /// SSL certificate file [None]
    #[arg(long = "certfile", value_name = "FILE")]
    certfile: Option<PathBuf>,
    /// SSL key file [None]
    #[arg(long = "keyfile", value_name = "FILE")]
    keyfile: Option<PathBuf>,
    /// CA certificates file [None]
    #[arg(long = "ca-certs", value_name = "FILE")]
    ca_certs: Option<PathBuf>,
    /// Whether client certificate is required: 0 none, 1 optional, 2 required [0]
    #[arg(long = "cert-reqs", value_name = "INT")]
    cert_reqs: Option<u8>,
    /// SSL version to use (rwsgi: only the default, TLS negotiated) [2]
    #[arg(long = "ssl-version", value_name = "STRING")]
    ssl_version: Option<String>,
    /// SSL Cipher suite to use (rwsgi: refused; rustls chooses) [None]
    #[arg(long = "ciphers", value_name = "STRING")]
    ciphers: Option<String>,
    /// Whether to perform SSL handshake on socket connect (rwsgi always does) [False]
    #[arg(long = "do-handshake-on-connect")]
    do_handshake_on_connect: bool,
    /// Suppress ragged EOFs (see stdlib ssl module's) [True]
    #[arg(long = "suppress-ragged-eofs", value_name = "BOOL", num_args = 0..=1, default_missing_value = "true")]
    suppress_ragged_eofs: Option<bool>,
    /// rwsgi: the runtime each worker runs (tokio, smol, async-std, among those compiled in)
    #[arg(long, value_name = "NAME")]
    backend: Option<String>,
    /// rwsgi: the HTTP engine (hyper, async-h1, h1, among those the backend drives)
    #[arg(long, value_name = "NAME")]
    engine: Option<Engine>,
    /// rwsgi: event-loop threads per worker [1]
    #[arg(long = "io-threads", value_name = "INT", value_parser = clap_pos_int::<usize>)]
    io_threads: Option<usize>,
    /// rwsgi: seconds a request head may take to arrive [30]
    #[arg(long = "header-read-timeout", value_name = "INT", value_parser = clap_pos_int::<u64>)]
    header_read_timeout: Option<u64>,
    /// rwsgi: seconds one write may wait for a client that does not read [30]
    #[arg(long = "write-timeout", value_name = "INT", value_parser = clap_pos_int::<u64>)]
    write_timeout: Option<u64>,
    /// The application: module:app or module:create_app()
    #[arg(value_name = "APP_MODULE")]
    args: Vec<String>,
}

/// Why the settings could not be loaded, with gunicorn's exit status.
#[derive(Debug)]
pub enum LoadError {
    /// A bad command line: clap's message and status (2; 0 for `--help`
    /// and `--version`).
    Usage(clap::Error),
    /// A usage error found after parsing (exit 2).
    UsageMessage(String),
    /// A bad value or config file (gunicorn prints `Error: …` and exits 1).
    Config(String),
}

/// Loads the settings from `args` (`args[0]` is the program name),
/// `GUNICORN_CMD_ARGS`, the config file and the environment.
///
/// # Errors
///
/// A bad command line, config file or value.
pub fn load(args: &[OsString], env: &dyn Fn(&str) -> Option<String>) -> Result<Settings, LoadError> {
    let program: &'static str = Box::leak(
        args.first()
            .map_or_else(|| "gunicorn".to_owned(), |a| a.to_string_lossy().into_owned())
            .into_boxed_str(),
    );
    let parse = |argv: Vec<OsString>| {
        use clap::CommandFactory as _;
        use clap::FromArgMatches as _;
        let matches = Cli::command()
            .name(program)
            .bin_name(program)
            .override_usage(format!("{program} [OPTIONS] [APP_MODULE]"))
            .try_get_matches_from(argv)
            .map_err(LoadError::Usage)?;
        Cli::from_arg_matches(&matches).map_err(LoadError::Usage)
    };
    let cli = parse(args.to_vec())?;
    let env_cli = match env("GUNICORN_CMD_ARGS") {
        Some(line) => {
            let words =
                shlex_split(&line).map_err(|e| LoadError::Config(format!("GUNICORN_CMD_ARGS: {e}")))?;
            let argv = std::iter::once(OsString::from(program))
                .chain(words.into_iter().map(OsString::from))
                .collect();
            parse(argv)?
        }
        None => Cli::default(),
    };
    let mut settings = Settings::defaults(env);
    let config = cli.config.clone().or_else(|| env_cli.config.clone()).or_else(|| {
        let default = Path::new(DEFAULT_CONFIG_FILE);
        default.exists().then(|| default.to_path_buf())
    });
    if let Some(path) = &config {
        read_config_file(&mut settings, path)?;
        settings.config = Some(path.clone());
    }
    settings.apply_cli(&env_cli).map_err(LoadError::Config)?;
    settings.apply_cli(&cli).map_err(LoadError::Config)?;
    if let Some(app) = cli.args.first() {
        settings.wsgi_app = Some(app.clone());
    }
    if settings.wsgi_app.is_none() {
        return Err(LoadError::UsageMessage("No application module specified.".into()));
    }
    for entry in &settings.raw_env {
        if !entry.contains('=') {
            return Err(LoadError::Config(format!(
                "environment setting {entry:?} invalid"
            )));
        }
    }
    settings.worker_class().map_err(LoadError::Config)?;
    settings.tls().map_err(LoadError::Config)?;
    Ok(settings)
}

fn read_config_file(settings: &mut Settings, path: &Path) -> Result<(), LoadError> {
    let text = std::fs::read_to_string(path)
        .map_err(|err| LoadError::Config(format!("Failed to read config file: {}: {err}", path.display())))?;
    let table: toml::Table = text
        .parse()
        .map_err(|err| LoadError::Config(format!("Failed to read config file: {}: {err}", path.display())))?;
    for (key, value) in &table {
        settings
            .set_toml(key, value)
            .map_err(|err| LoadError::Config(format!("{}: {err}", path.display())))?;
    }
    Ok(())
}

/// Splits a command line as Python's `shlex.split` does (quotes and
/// backslashes, POSIX rules).
fn shlex_split(line: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            '\\' => {
                in_word = true;
                word.push(chars.next().ok_or("No escaped character")?);
            }
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => word.push(c),
                        None => return Err("No closing quotation".into()),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(c @ ('"' | '\\' | '$' | '`')) => word.push(c),
                            Some(c) => {
                                word.push('\\');
                                word.push(c);
                            }
                            None => return Err("No closing quotation".into()),
                        },
                        Some(c) => word.push(c),
                        None => return Err("No closing quotation".into()),
                    }
                }
            }
            c => {
                in_word = true;
                word.push(c);
            }
        }
    }
    if in_word {
        words.push(word);
    }
    Ok(words)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_of(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |k| pairs.iter().find(|(n, _)| *n == k).map(|(_, v)| (*v).to_owned())
    }

    fn args(list: &[&str]) -> Vec<OsString> {
        list.iter().map(OsString::from).collect()
    }

    #[test]
    fn defaults_are_gunicorns() {
        let s = load(&args(&["gunicorn", "demo:hello"]), &env_of(&[])).unwrap();
        assert_eq!(s.bind, ["127.0.0.1:8000"]);
        assert_eq!((s.workers, s.threads, s.worker_connections), (1, 1, 1000));
        assert_eq!((s.timeout, s.graceful_timeout, s.keepalive), (30, 30, 2));
        assert_eq!(
            (
                s.limit_request_line,
                s.limit_request_fields,
                s.limit_request_field_size
            ),
            (4094, 100, 8190)
        );
        assert_eq!(s.backlog, 2048);
        assert_eq!(s.worker_class().unwrap(), WorkerClass::Sync);
        assert_eq!(s.access_log_format, DEFAULT_ACCESS_LOG_FORMAT);
        assert_eq!(s.forwarded_allow_ips, "127.0.0.1,::1");
        assert_eq!(s.wsgi_app.as_deref(), Some("demo:hello"));
    }

    #[test]
    fn environment_and_precedence() {
        let env = env_of(&[
            ("PORT", "5000"),
            ("WEB_CONCURRENCY", "3"),
            (
                "GUNICORN_CMD_ARGS",
                "--workers=5 --timeout 7 --access-logformat '%(h)s \"x\"'",
            ),
        ]);
        let s = load(&args(&["gunicorn", "-t", "9", "app:app"]), &env).unwrap();
        assert_eq!(s.bind, ["0.0.0.0:5000"]);
        assert_eq!(s.workers, 5, "GUNICORN_CMD_ARGS beats WEB_CONCURRENCY");
        assert_eq!(s.timeout, 9, "the command line beats GUNICORN_CMD_ARGS");
        assert_eq!(s.access_log_format, "%(h)s \"x\"");
        let s = load(
            &args(&["gunicorn", "app:app"]),
            &env_of(&[("WEB_CONCURRENCY", "3")]),
        )
        .unwrap();
        assert_eq!(s.workers, 3);
    }

    #[test]
    fn config_file_between_defaults_and_flags() {
        let dir = std::env::temp_dir().join(format!("rwsgi-gconf-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("g.toml");
        std::fs::write(
            &path,
            "bind = ['127.0.0.1:9000', 'unix:/tmp/x.sock']\nworkers = 4\nkeepalive = 5\n\
             wsgi_app = 'demo:echo'\numask = '0o22'\nproxy_protocol = true\n\
             [secure_scheme_headers]\nx-forwarded-proto = 'https'\n",
        )
        .unwrap();
        let p = path.to_str().unwrap();
        let s = load(&args(&["gunicorn", "-c", p, "-w", "2"]), &env_of(&[])).unwrap();
        assert_eq!(s.bind, ["127.0.0.1:9000", "unix:/tmp/x.sock"]);
        assert_eq!((s.workers, s.keepalive), (2, 5));
        assert_eq!(s.wsgi_app.as_deref(), Some("demo:echo"));
        assert_eq!(s.umask, 0o22);
        assert_eq!(s.proxy_protocol, ProxyProtocol::Auto);
        assert_eq!(
            s.secure_scheme_headers,
            [("X-FORWARDED-PROTO".to_owned(), "https".to_owned())]
        );
        std::fs::write(&path, "wokers = 4\n").unwrap();
        let err = load(&args(&["gunicorn", "-c", p, "a:b"]), &env_of(&[])).unwrap_err();
        assert!(
            matches!(&err, LoadError::Config(m) if m.contains("unknown setting \"wokers\"")),
            "{err:?}"
        );
        std::fs::write(&path, "workers = -1\n").unwrap();
        let err = load(&args(&["gunicorn", "-c", p, "a:b"]), &env_of(&[])).unwrap_err();
        assert!(
            matches!(&err, LoadError::Config(m) if m.contains("Value must be positive")),
            "{err:?}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn usage_errors() {
        let err = load(&args(&["gunicorn", "--wrokers", "2", "a:b"]), &env_of(&[])).unwrap_err();
        assert!(matches!(&err, LoadError::Usage(e) if e.exit_code() == 2));
        let err = load(&args(&["gunicorn", "-w", "-1", "a:b"]), &env_of(&[])).unwrap_err();
        assert!(matches!(&err, LoadError::Usage(e) if e.exit_code() == 2));
        let err = load(&args(&["gunicorn"]), &env_of(&[])).unwrap_err();
        assert!(matches!(&err, LoadError::UsageMessage(m) if m == "No application module specified."));
        let err = load(&args(&["gunicorn", "-k", "nope", "a:b"]), &env_of(&[])).unwrap_err();
        assert!(matches!(&err, LoadError::Config(m) if m.contains("class uri \"nope\" invalid")));
    }

    #[test]
    fn worker_classes() {
        assert_eq!(WorkerClass::resolve("sync", 4).unwrap(), WorkerClass::Gthread);
        assert_eq!(
            WorkerClass::resolve("gunicorn.workers.ggevent.GeventWorker", 1).unwrap(),
            WorkerClass::Inline("gevent")
        );
        assert_eq!(WorkerClass::resolve("gthread", 1).unwrap().name(), "gthread");
    }

    #[test]
    fn proxy_protocol_flag() {
        let s = load(
            &args(&["gunicorn", "--proxy-protocol", "--", "a:b"]),
            &env_of(&[]),
        )
        .unwrap();
        assert_eq!(s.proxy_protocol, ProxyProtocol::Auto);
        let s = load(&args(&["gunicorn", "--proxy-protocol=v2", "a:b"]), &env_of(&[])).unwrap();
        assert_eq!(s.proxy_protocol, ProxyProtocol::V2);
        let s = load(&args(&["gunicorn", "a:b", "--proxy-protocol"]), &env_of(&[])).unwrap();
        assert_eq!(s.proxy_protocol, ProxyProtocol::Auto);
    }

    #[test]
    fn umask_and_shlex() {
        assert_eq!(parse_auto_int("0022"), Ok(0o22));
        assert_eq!(parse_auto_int("0o77"), Ok(0o77));
        assert_eq!(parse_auto_int("0xFF"), Ok(255));
        assert_eq!(parse_auto_int("18"), Ok(18));
        assert_eq!(
            shlex_split(r#"-b 'a b' "c \"d\"" e\ f"#).unwrap(),
            ["-b", "a b", "c \"d\"", "e f"]
        );
        assert!(shlex_split("'open").is_err());
    }

    #[test]
    fn print_config_is_sorted_and_aligned() {
        let s = load(&args(&["gunicorn", "demo:hello"]), &env_of(&[])).unwrap();
        let text = s.print();
        let lines: Vec<&str> = text.lines().collect();
        assert!(
            lines[0].starts_with("access_log_format        = %(h)s"),
            "{}",
            lines[0]
        );
        assert!(
            text.contains("\nbind                     = ['127.0.0.1:8000']\n"),
            "{text}"
        );
        assert!(text.contains("\nworkers                  = 1\n"));
        let mut names: Vec<&str> = lines.iter().map(|l| l.split(' ').next().unwrap()).collect();
        let sorted = {
            let mut s = names.clone();
            s.sort_unstable();
            s
        };
        assert_eq!(names, sorted);
        names.dedup();
        assert_eq!(names.len(), lines.len());
    }
}
