//! The accept loop every `futures-io` backend runs per listener.

use std::future::Future;
use std::io;
use std::pin::Pin;

use futures_lite::FutureExt;
use rwsgi_core::AcceptBackoff;
use rwsgi_core::gateway::{ConnInfo, Gateway};

use rwsgi_core::ListenerSetup;

use crate::{Connection, serve};

/// A listening socket of a `futures-io` runtime.
pub trait Accept: Send + Sync + 'static {
    /// What it accepts.
    type Conn: Connection;

    /// The next connection, with its peer and local addresses
    /// (`secure` false: TLS is the pipeline's business).
    fn accept(&self) -> impl Future<Output = io::Result<(Self::Conn, ConnInfo)>> + Send;
}

/// A task to run: one per connection.
pub type Task = Pin<Box<dyn Future<Output = ()> + Send>>;

/// Accepts until shutdown, handing each connection's task to `spawn`
/// (which returns `false` once its executor is gone, ending the loop).
/// Pauses while `max_connections` are open, and backs off when accept fails
/// (out of descriptors: logged once per interval, never a busy loop).
pub async fn accept_loop<L: Accept>(
    listener: L,
    gateway: Gateway,
    setup: ListenerSetup,
    spawn: impl Fn(Task) -> bool,
) {
    let handle = gateway.handle().clone();
    let max = gateway.config().max_connections;
    let mut backoff = AcceptBackoff::new();
    loop {
        // Shutdown is polled first, as tokio's `biased` select does.
        let accepted = async {
            handle.shutdown_requested().await;
            None
        }
        .or(async {
            handle.room_for_connection(max).await;
            Some(listener.accept().await)
        })
        .await;
        let Some(accepted) = accepted else { return };
        match accepted {
            Ok((conn, info)) => {
                backoff.on_success();
                let serve = serve(conn, info, gateway.clone(), &setup);
                let slot = handle.connection();
                let task = Box::pin(async move {
                    serve.await;
                    drop(slot);
                });
                if !spawn(task) {
                    return;
                }
            }
            Err(err) => {
                let wait = backoff.on_error(&err, &gateway.config().error_log);
                if !wait.is_zero() {
                    gateway.timer().sleep(wait).await;
                }
            }
        }
    }
}
