//! A head the scanner accepted → the gateway's `RequestHead`.

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method, Version};
use rwsgi_core::gateway::RequestHead;
use rwsgi_core::request_error::RequestError;

/// Parses `head` (request line to empty line, already checked by the
/// scanner) without copying: target and values are slices of it.
pub(crate) fn parse(head: &Bytes, max_fields: usize) -> Result<RequestHead, RequestError> {
    let bad = |why| RequestError::BadRequestLine(why);
    let mut inline = [httparse::EMPTY_HEADER; 100];
    let mut spilled;
    let fields: &mut [httparse::Header<'_>] = if max_fields == 0 || max_fields > inline.len() {
        spilled = vec![httparse::EMPTY_HEADER; if max_fields == 0 { 32_768 } else { max_fields }];
        &mut spilled
    } else {
        &mut inline
    };
    let mut request = httparse::Request::new(fields);
    match request.parse(head) {
        Ok(httparse::Status::Complete(_)) => {}
        Ok(httparse::Status::Partial) => return Err(bad("incomplete head")),
        Err(httparse::Error::TooManyHeaders) => return Err(RequestError::TooManyHeaders),
        Err(_) => return Err(bad("malformed head")),
    }
    let method = Method::from_bytes(request.method.unwrap_or_default().as_bytes())
        .map_err(|_| bad("the method is not a token"))?;
    let target = head.slice_ref(request.path.unwrap_or_default().as_bytes());
    let version = match request.version {
        Some(0) => Version::HTTP_10,
        _ => Version::HTTP_11,
    };
    let mut headers = HeaderMap::with_capacity(request.headers.len());
    for field in request.headers.iter() {
        let name = HeaderName::from_bytes(field.name.as_bytes())
            .map_err(|_| RequestError::BadHeader("a field name is not a token"))?;
        let value = HeaderValue::from_maybe_shared(head.slice_ref(field.value))
            .map_err(|_| RequestError::BadHeader("a bad field value"))?;
        headers.append(name, value);
    }
    Ok(RequestHead {
        method,
        target,
        version,
        headers,
    })
}
