//! The glue between `wasi:http` and a handler: read the request, run the handler, stream the
//! response. Only this module touches the `wasi` resources.

use std::io::{self, BufWriter, Read, Write};

use wasi::http::types::{
    Fields, HeaderError, IncomingBody, IncomingRequest, Method, OutgoingBody, OutgoingResponse,
    ResponseOutparam,
};
use wasi::io::streams::{InputStream, OutputStream, StreamError};

use crate::request::Parts;
use crate::response::ResponseBody;
use crate::{Config, Error, Headers, IntoResponse, Request, Response, bindings};

/// The most `blocking-write-and-flush` takes in one call.
const CHUNK: usize = 4096;

/// The most asked of `blocking-read` in one call while reading a body.
pub(crate) const READ_CHUNK: u64 = 64 * 1024;

/// Serves one request with `handler`: what [`export_route!`](crate::export_route) calls.
pub fn serve<H, R>(
    request: IncomingRequest,
    response_out: ResponseOutparam,
    config: &Config,
    handler: H,
) where
    H: FnOnce(Request) -> R,
    R: IntoResponse,
{
    let response = match read_request(request, config) {
        Ok(request) => handler(request).into_response(),
        Err(error) => error.into_response(),
    };
    send(response, response_out);
}

/// Turns the `wasi:http` request into a [`Request`], reading the body unless the route streams it.
fn read_request(request: IncomingRequest, config: &Config) -> Result<Request, Error> {
    let (pattern, params) = bindings::route_context();
    let parts = Parts {
        method: method_name(request.method()),
        url: request.path_with_query().unwrap_or_else(|| "/".to_owned()),
        headers: headers_of(&request.headers()),
        pattern,
        params,
    };
    let body = request
        .consume()
        .map_err(|()| Error::internal("the request body was already consumed"))?;
    let stream = body
        .stream()
        .map_err(|()| Error::internal("the request body stream was already taken"))?;
    let reader = IncomingBodyReader {
        stream,
        _body: body,
        _request: request,
        done: false,
    };
    Request::from_parts(parts, Box::new(reader), config)
}

/// A request's or response's `wasi:http` fields as [`Headers`]; values that are not UTF-8 get
/// U+FFFD.
pub(crate) fn headers_of(fields: &Fields) -> Headers {
    let mut headers = Headers::default();
    for (name, value) in fields.entries() {
        headers.append(&name, String::from_utf8_lossy(&value).into_owned());
    }
    headers
}

fn method_name(method: Method) -> String {
    let name = match method {
        Method::Get => "GET",
        Method::Head => "HEAD",
        Method::Post => "POST",
        Method::Put => "PUT",
        Method::Delete => "DELETE",
        Method::Connect => "CONNECT",
        Method::Options => "OPTIONS",
        Method::Trace => "TRACE",
        Method::Patch => "PATCH",
        Method::Other(other) => return other,
    };
    name.to_owned()
}

/// The request body as [`Read`]. Fields drop in order: the stream before its body, the body
/// before its request, as `wasi:http` requires of child resources.
struct IncomingBodyReader {
    stream: InputStream,
    _body: IncomingBody,
    _request: IncomingRequest,
    done: bool,
}

impl Read for IncomingBodyReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() || self.done {
            return Ok(0);
        }
        let want = (buf.len() as u64).min(READ_CHUNK);
        loop {
            match self.stream.blocking_read(want) {
                Ok(chunk) if chunk.is_empty() => continue,
                Ok(chunk) => {
                    let n = chunk.len().min(buf.len());
                    buf[..n].copy_from_slice(&chunk[..n]);
                    return Ok(n);
                }
                Err(StreamError::Closed) => {
                    self.done = true;
                    return Ok(0);
                }
                Err(StreamError::LastOperationFailed(e)) => {
                    return Err(io::Error::other(e.to_debug_string()));
                }
            }
        }
    }
}

/// Sends `response`: status and headers first, then the body in chunks, then the end.
fn send(response: Response, response_out: ResponseOutparam) {
    let (status, headers, body) = response.into_parts();
    let (outgoing, body) = match outgoing_response(status, &headers, &body) {
        Ok(outgoing) => (outgoing, body),
        Err(reason) => {
            eprintln!("routelet: the handler's response cannot be sent: {reason}");
            let (status, headers, body) = Error::new(500, "Internal Server Error")
                .into_response()
                .into_parts();
            let outgoing = outgoing_response(status, &headers, &body)
                .expect("the fallback 500 response is valid");
            (outgoing, body)
        }
    };
    let outgoing_body = outgoing.body().expect("a new response has a body");
    // Hand the response over before writing, so the host sends the head and the body streams.
    ResponseOutparam::set(response_out, Ok(outgoing));

    let stream = outgoing_body.write().expect("a new body has a stream");
    let written = write_body(&stream, body);
    drop(stream);
    match written {
        Ok(()) => {
            if let Err(e) = OutgoingBody::finish(outgoing_body, None) {
                eprintln!("routelet: the response body could not be finished: {e:?}");
            }
        }
        // Dropping the body unfinished tells the host the response is incomplete.
        Err(e) => eprintln!("routelet: the response body was cut short: {e}"),
    }
}

/// Builds the response head. A forbidden header (`connection`, `transfer-encoding`, ...) is
/// left out with a log line; a malformed one or a bad status fails the whole response.
fn outgoing_response(
    status: u16,
    headers: &[(String, String)],
    body: &ResponseBody,
) -> Result<OutgoingResponse, String> {
    let fields = Fields::new();
    for (name, value) in headers {
        match fields.append(name, value.as_bytes()) {
            Ok(()) => {}
            Err(HeaderError::Forbidden) => {
                eprintln!(
                    "routelet: header `{name}` is set by the host; the handler's value is ignored"
                );
            }
            Err(e) => return Err(format!("header `{name}: {value}` is not valid ({e:?})")),
        }
    }
    let has_length = headers
        .iter()
        .any(|(n, _)| n.eq_ignore_ascii_case("content-length"));
    let may_have_body = !(status < 200 || status == 204 || status == 304);
    if let ResponseBody::Full(bytes) = body
        && !has_length
        && may_have_body
    {
        fields
            .append("content-length", bytes.len().to_string().as_bytes())
            .map_err(|e| format!("content-length not accepted ({e:?})"))?;
    }
    let outgoing = OutgoingResponse::new(fields);
    outgoing
        .set_status_code(status)
        .map_err(|()| format!("{status} is not a valid status code"))?;
    Ok(outgoing)
}

fn write_body(stream: &OutputStream, body: ResponseBody) -> io::Result<()> {
    let mut writer = BufWriter::with_capacity(CHUNK, StreamWriter { stream });
    match body {
        ResponseBody::Full(bytes) => writer.write_all(&bytes)?,
        ResponseBody::Stream(write) => write(&mut writer)?,
    }
    writer.flush()
}

/// Writes to a body stream, at most [`CHUNK`] bytes per `blocking-write-and-flush`.
pub(crate) struct StreamWriter<'a> {
    pub(crate) stream: &'a OutputStream,
}

impl Write for StreamWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = buf.len().min(CHUNK);
        match self.stream.blocking_write_and_flush(&buf[..n]) {
            Ok(()) => Ok(n),
            Err(StreamError::Closed) => Err(io::ErrorKind::BrokenPipe.into()),
            Err(StreamError::LastOperationFailed(e)) => Err(io::Error::other(e.to_debug_string())),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
