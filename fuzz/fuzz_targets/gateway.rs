//! The gateway: any request head an engine might hand over becomes either a
//! refusal or an environ that passes Lint and survives a round trip through
//! its PEP 3333 string view — never a panic.

#![no_main]

use std::sync::{Arc, Mutex, PoisonError};

use arbitrary::Arbitrary;
use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method, Version};
use http_body_util::{BodyExt, Full};
use libfuzzer_sys::fuzz_target;
use rwsgi_core::gateway::{ConnInfo, Gateway, RequestHead};
use rwsgi_core::middleware::Lint;
use rwsgi_core::{Addr, Body, Environ, ServerHandle, StartResponse, UnderscoreHeaders};
use rwsgi_fuzz::{NeverTimer, quiet_config};

#[derive(Arbitrary, Debug)]
struct Request {
    method: Vec<u8>,
    target: Vec<u8>,
    http10: bool,
    headers: Vec<(Vec<u8>, Vec<u8>)>,
    body: Vec<u8>,
    underscores: u8,
    secure: bool,
    unix_peer: bool,
}

fn head(request: &Request) -> Option<RequestHead> {
    let mut headers = HeaderMap::new();
    for (name, value) in &request.headers {
        headers.append(
            HeaderName::from_bytes(name).ok()?,
            HeaderValue::from_bytes(value).ok()?,
        );
    }
    Some(RequestHead {
        method: Method::from_bytes(&request.method).ok()?,
        target: Bytes::copy_from_slice(&request.target),
        version: if request.http10 {
            Version::HTTP_10
        } else {
            Version::HTTP_11
        },
        headers,
    })
}

fuzz_target!(|request: Request| {
    let Some(head) = head(&request) else { return };
    let seen = Arc::new(Mutex::new(None));
    let record = Arc::clone(&seen);
    let app = move |environ: &mut Environ, sr: &StartResponse| -> rwsgi_core::Result<Body> {
        let pairs = environ.to_pairs();
        let rebuilt = Environ::from_pairs(pairs.clone()).expect("the environ's own pairs are refused");
        assert_eq!(rebuilt.to_pairs(), pairs, "the string view does not round-trip");
        let body = environ.input.read_all()?;
        *record.lock().unwrap_or_else(PoisonError::into_inner) = Some(body);
        sr.start("200 OK", [("Content-Type", "text/plain")])?;
        Ok(Body::from("ok"))
    };
    let lint = Lint::new(app);
    let report = lint.report();
    let mut config = quiet_config();
    config.underscore_headers = match request.underscores % 3 {
        0 => UnderscoreHeaders::Drop,
        1 => UnderscoreHeaders::Refuse,
        _ => UnderscoreHeaders::Keep,
    };
    let gateway = Gateway::new(lint, config, Arc::new(NeverTimer), ServerHandle::new());
    let info = ConnInfo {
        peer: if request.unix_peer {
            Addr::Unix(None)
        } else {
            Addr::Tcp(([127, 0, 0, 1], 40000).into())
        },
        local: Addr::Tcp(([127, 0, 0, 1], 8000).into()),
        secure: request.secure,
        proxy: None,
    };
    let body = Box::pin(Full::new(Bytes::from(request.body.clone())).map_err(|never| match never {}));
    futures_lite::future::block_on(async {
        let Some(response) = gateway.serve(&info, head, body).await else {
            return;
        };
        let status = response.head.status;
        let sent = response.body.collect().await.map(|b| b.to_bytes());
        if let Some(read) = seen.lock().unwrap_or_else(PoisonError::into_inner).take() {
            assert_eq!(read, request.body, "the application read another body");
            assert_eq!(status, 200);
            assert_eq!(sent.ok().as_deref(), Some(&b"ok"[..]));
        } else {
            assert!(
                status.is_client_error() || status.is_server_error(),
                "{status} without the application"
            );
        }
    });
    report.assert_clean();
});
