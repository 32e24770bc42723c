//! Measuring servers: a load generator, server processes, and what `/proc`
//! says about them. Used by the criterion benches (`cargo bench`) and the
//! comparison runner (`rwsgi bench`).
//!
//! Servers always run as child processes, so that the client's work and
//! memory are never counted against them; the raw-hyper yardstick
//! (`rwsgi-raw-hyper`, or `rwsgi bench yardstick`) is one more such
//! process, and so is the client that holds idle connections (`rwsgi bench
//! hold`).

pub mod chart;
pub mod child;
pub mod cli;
pub mod control;
pub mod hold;
pub mod load;
pub mod process;
pub mod report;
pub mod runner;
pub mod server;
pub mod tls;
pub mod yardstick;

pub use child::{Process, Spawn, can_pin, pin_self};
pub use hold::Holder;
pub use load::{
    Connector, Limit, LoadOptions, LoadReport, Plain, Standing, drive, drive_fresh, drive_over, open_idle,
};
pub use process::{Settle, Settled, Usage, settled_rss, usage, usage_alone};
pub use server::{Server, StartError};
