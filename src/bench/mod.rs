//! Measuring servers: a load generator, server processes, and what `/proc`
//! says about them. Used by the criterion benches (`cargo bench`) and the
//! comparison runner (`rwsgi bench`).
//!
//! Servers always run as child processes, so that the client's work and
//! memory are never counted against them; the raw-hyper yardstick
//! (`rwsgi-raw-hyper`) is one more such process.

pub mod cli;
pub mod load;
pub mod process;

pub use load::{Limit, LoadOptions, LoadReport, drive, open_idle};
pub use process::{Usage, usage};
