//! Guest stdout and stderr, sent line by line to the host's log with the route and request id.

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::Bytes;
use tokio::io::AsyncWrite;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamResult};

/// A longer line is logged in pieces, so a guest cannot grow host memory without bound.
const MAX_LINE: usize = 16 * 1024;

/// Which of the guest's two output streams a line came from.
#[derive(Clone, Copy, Debug)]
pub enum Stream {
    Stdout,
    Stderr,
}

/// One guest output stream for one request; every handle WASI makes of it shares one line buffer.
#[derive(Clone)]
pub struct GuestOutput {
    lines: Arc<Mutex<LineBuffer>>,
}

impl GuestOutput {
    /// Labels each line with the route pattern and request id.
    pub fn new(route: Arc<str>, request_id: Arc<str>, stream: Stream) -> Self {
        Self {
            lines: Arc::new(Mutex::new(LineBuffer {
                route,
                request_id,
                stream,
                pending: Vec::new(),
            })),
        }
    }

    /// Labels the lines from now on with `request_id`, for an instance that serves another
    /// request; a partial line left by the last request is logged under that request first.
    pub fn relabel(&self, request_id: Arc<str>) {
        let mut lines = self.lines.lock().unwrap_or_else(|e| e.into_inner());
        if !lines.pending.is_empty() {
            lines.emit();
        }
        lines.request_id = request_id;
    }

    fn write_bytes(&self, bytes: &[u8]) {
        self.lines
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(bytes);
    }
}

struct LineBuffer {
    route: Arc<str>,
    request_id: Arc<str>,
    stream: Stream,
    pending: Vec<u8>,
}

impl LineBuffer {
    fn push(&mut self, mut bytes: &[u8]) {
        while let Some(newline) = bytes.iter().position(|b| *b == b'\n') {
            self.pending.extend_from_slice(&bytes[..newline]);
            self.emit();
            bytes = &bytes[newline + 1..];
        }
        self.pending.extend_from_slice(bytes);
        while self.pending.len() >= MAX_LINE {
            let rest = self.pending.split_off(MAX_LINE);
            self.emit();
            self.pending = rest;
        }
    }

    fn emit(&mut self) {
        let line = String::from_utf8_lossy(&self.pending);
        let line = line.trim_end_matches('\r');
        if line.is_empty() {
            self.pending.clear();
            return;
        }
        match self.stream {
            Stream::Stdout => tracing::info!(
                route = %self.route, request_id = %self.request_id, "guest stdout: {line}"
            ),
            Stream::Stderr => tracing::warn!(
                route = %self.route, request_id = %self.request_id, "guest stderr: {line}"
            ),
        }
        self.pending.clear();
    }
}

impl Drop for LineBuffer {
    fn drop(&mut self) {
        if !self.pending.is_empty() {
            self.emit();
        }
    }
}

impl IsTerminal for GuestOutput {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for GuestOutput {
    fn async_stream(&self) -> Box<dyn AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }

    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }
}

impl AsyncWrite for GuestOutput {
    fn poll_write(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.write_bytes(buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

impl OutputStream for GuestOutput {
    fn write(&mut self, bytes: Bytes) -> StreamResult<()> {
        self.write_bytes(&bytes);
        Ok(())
    }

    fn flush(&mut self) -> StreamResult<()> {
        Ok(())
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        Ok(64 * 1024)
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for GuestOutput {
    async fn ready(&mut self) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    fn output() -> GuestOutput {
        GuestOutput::new("/api/x".into(), "req".into(), Stream::Stdout)
    }

    #[test]
    fn splits_lines_and_keeps_the_partial_tail() {
        let out = output();
        out.write_bytes(b"one\ntwo\nthr");
        assert_eq!(out.lines.lock().unwrap().pending, b"thr");
        out.write_bytes(b"ee\n");
        assert!(out.lines.lock().unwrap().pending.is_empty());
    }

    #[test]
    fn a_relabelled_output_logs_the_last_requests_partial_line_under_it() {
        let out = output();
        out.write_bytes(b"half");
        out.relabel("next".into());
        let lines = out.lines.lock().unwrap();
        assert!(lines.pending.is_empty());
        assert_eq!(&*lines.request_id, "next");
    }

    #[test]
    fn bounds_a_line_without_newline() {
        let out = output();
        out.write_bytes(&vec![b'x'; MAX_LINE * 2 + 10]);
        assert_eq!(out.lines.lock().unwrap().pending.len(), 10);
    }
}
