//! A local emulator of the Google Photos Library API, for tests, demos and benchmarks.
//!
//! It speaks Google's resumable upload protocol (`X-Goog-Upload-*`: start, upload,
//! `upload, finalize`, finalize, query, cancel, and raw simple uploads) with the strict validation
//! a real server applies, the Library calls (`mediaItems:batchCreate` with per-item statuses,
//! `mediaItems.get`, `albums.create`, `albums:batchAddMediaItems`) behind bearer-token checks, and
//! the OAuth installed-app flow (a consent endpoint that redirects straight back with a code, and a
//! token endpoint with PKCE and refresh). Faults can be injected from Rust, from flags or over HTTP,
//! and every request is recorded for inspection, without secrets.
//!
//! It is an independent implementation of Google's behaviour, written from the protocol
//! description rather than from any client, so that it catches client bugs.
//!
//! ```no_run
//! use gphotos_emulator::{Config, Emulator, FaultRule};
//!
//! let emu = Emulator::start(Config::default())?;
//! println!("API root {}", emu.base_url()); // http://127.0.0.1:PORT/v1/
//! emu.inject("upload@2:status=503,retry-after=1".parse::<FaultRule>()?)?;
//! // ... run a client against emu.base_url() ...
//! let state = emu.inspect();
//! assert!(state.media_items.iter().all(|m| m.size > 0));
//! emu.stop();
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod args;
mod chunk;
mod config;
mod control;
mod fault_book;
mod faults;
mod http;
mod inspect;
mod library;
mod oauth;
mod random;
mod response;
mod routes;
mod server;
mod session;
mod state;
mod storage;
mod upload;

use std::io;
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::thread::JoinHandle;

pub use args::{ArgsError, EmulatorArgs};
pub use config::{Config, DEFAULT_GRANULARITY, Storage};
pub use faults::{FaultAction, FaultParseError, FaultRule, Occurrence, RandomFaults, RequestKind};
pub use inspect::{AlbumInfo, Inspection, MediaItemInfo, ObjectInfo, SessionInfo};
pub use state::{RequestRecord, SessionStatus};

use state::Shared;
use storage::Store;

/// A running emulator on 127.0.0.1. Stopping it (or dropping it) closes its connections and deletes
/// its temporary storage.
pub struct Emulator {
    shared: Arc<Shared>,
    addr: SocketAddr,
    accept: Option<JoinHandle<()>>,
}

impl Emulator {
    /// Binds `127.0.0.1:{config.port}` (0: any free port) and serves in background threads.
    ///
    /// # Errors
    /// `InvalidInput` for a bad configuration (see [`Config::validate`]); the bind or temp-dir error
    /// otherwise.
    pub fn start(config: Config) -> io::Result<Self> {
        config
            .validate()
            .map_err(|message| io::Error::new(io::ErrorKind::InvalidInput, message))?;
        let listener = TcpListener::bind(("127.0.0.1", config.port))?;
        let addr = listener.local_addr()?;
        let store = Store::new(config.storage)?;
        let shared = Arc::new(Shared::new(config, format!("http://{addr}"), store));
        let worker = Arc::clone(&shared);
        let accept = std::thread::Builder::new()
            .name("gphotos-emulator-accept".into())
            .spawn(move || server::accept_loop(&worker, &listener))?;
        Ok(Self {
            shared,
            addr,
            accept: Some(accept),
        })
    }

    /// The API root, `http://127.0.0.1:PORT/v1/` (ends with `/`).
    pub fn base_url(&self) -> String {
        self.shared.base_url()
    }

    /// The listening address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The OAuth token endpoint, `http://127.0.0.1:PORT/oauth2/token`.
    pub fn token_uri(&self) -> String {
        format!("{}/oauth2/token", self.shared.origin)
    }

    /// The OAuth consent endpoint, `http://127.0.0.1:PORT/oauth2/auth`.
    pub fn auth_uri(&self) -> String {
        format!("{}/oauth2/auth", self.shared.origin)
    }

    /// Adds a fault rule; it counts requests from now on.
    ///
    /// # Errors
    /// The rule cannot apply (see [`FaultRule::validate`]).
    pub fn inject(&self, rule: FaultRule) -> Result<(), FaultParseError> {
        rule.validate()?;
        self.shared.faults().add(rule);
        Ok(())
    }

    /// Removes every fault rule (random faults stay as configured).
    pub fn clear_faults(&self) {
        self.shared.faults().clear();
    }

    /// A snapshot of sessions, objects, media items, albums, the request log and the fault rules.
    pub fn inspect(&self) -> Inspection {
        let faults = self.shared.faults().rules();
        Inspection::of(&self.shared.state(), faults)
    }

    /// Stops serving, closes open connections and deletes stored uploads. Dropping does the same.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        let Some(accept) = self.accept.take() else {
            return;
        };
        self.shared.set_stopping();
        // Wake the accept loop, which is blocked in accept().
        let _ = TcpStream::connect(self.addr);
        let _ = accept.join();
        for stream in self.shared.connections().values() {
            let _ = stream.shutdown(Shutdown::Both);
        }
        self.shared.store.close();
    }
}

/// Shows where it listens, never its tokens or state.
impl std::fmt::Debug for Emulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Emulator")
            .field("addr", &self.addr)
            .field("running", &self.accept.is_some())
            .finish_non_exhaustive()
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        self.shutdown();
    }
}
