//! What every backend's `from_listeners` checks and keeps.

use std::io;
use std::sync::Arc;

use super::{Addr, Config, Engine, Listener, ServerHandle, unsupported_engine};
use crate::tls::LoadedTls;

/// A configuration and listeners, checked for a backend: the configuration
/// valid, the engine one the backend drives (or the uwsgi protocol, which
/// every backend drives), the TLS files loaded. A backend's
/// [`Server::from_listeners`](super::Server::from_listeners) is this, and
/// its `run` takes the parts.
#[derive(Debug)]
pub struct Prepared {
    /// The configuration.
    pub config: Config,
    /// The engine chosen (the backend's first if none was asked for).
    pub engine: Engine,
    /// The listeners, in order.
    pub listeners: Vec<Listener>,
    /// Their addresses, for `local_addrs`.
    pub addrs: Vec<Addr>,
    /// The TLS of the TLS listeners, loaded.
    pub tls: Option<Arc<LoadedTls>>,
    /// The server's handle.
    pub handle: ServerHandle,
}

/// How one listener's connections are served: what a backend's accept
/// loop hands each connection's pipeline.
#[derive(Clone, Debug)]
pub struct ListenerSetup {
    /// The engine.
    pub engine: Engine,
    /// Whether a PROXY protocol header comes first
    /// ([`Config::proxy_protocol`]).
    pub proxy_protocol: bool,
    /// The listener's TLS, if it speaks TLS ([`Config::tls`]).
    pub tls: Option<Arc<LoadedTls>>,
}

impl Prepared {
    /// The setup of each listener, in order.
    pub fn setups(&self) -> Vec<ListenerSetup> {
        (0..self.listeners.len())
            .map(|index| ListenerSetup {
                engine: self.engine,
                proxy_protocol: self.config.proxy_protocol.applies_to(index),
                tls: crate::tls::for_listener(&self.config, &self.tls, index),
            })
            .collect()
    }

    /// Checks `config` and `listeners` for the backend `name`, which drives
    /// `engines`.
    ///
    /// # Errors
    ///
    /// `InvalidInput` for what cannot be honoured, with the reason (an
    /// invalid configuration, an engine the backend does not drive, a TLS
    /// file that is wrong); the error of reading a listener's address.
    pub fn new(name: &str, engines: &[Engine], config: Config, listeners: Vec<Listener>) -> io::Result<Self> {
        config
            .validate()
            .map_err(|msg| io::Error::new(io::ErrorKind::InvalidInput, msg))?;
        let engine = config.engine.unwrap_or(engines[0]);
        if !engines.contains(&engine) && engine != Engine::Uwsgi {
            return Err(unsupported_engine(name, engine, engines));
        }
        let addrs = listeners
            .iter()
            .map(Listener::local_addr)
            .collect::<io::Result<_>>()?;
        let tls = crate::tls::load_for(&config)?;
        Ok(Prepared {
            config,
            engine,
            listeners,
            addrs,
            tls,
            handle: ServerHandle::new(),
        })
    }
}
