// The component's `wasi:http/incoming-handler`, written here rather than left to the engine's
// fetch event: StarlingMonkey's fetch event serves one request per instance (its event is a
// singleton, bytecodealliance/StarlingMonkey#247), and the host reuses a JS route's instance
// for that route's next request. Every resource taken from the host is handed back before
// `handle` returns, which is what lets the host keep the instance. Requests and answers are the
// plain shapes next.js takes and makes, not web `Request`s and `Response`s: building those cost
// as much as the rest of a hello request.

import {
  Fields,
  IncomingBody,
  OutgoingBody,
  OutgoingResponse,
  ResponseOutparam,
} from 'wasi:http/types@0.2.10';
import { dispose } from './resources.js';

/** Bytes asked for per read of a request body. */
const READ_BYTES = 64n * 1024n;

/** Bytes one `blocking-write-and-flush` takes at most. */
const WRITE_AND_FLUSH_BYTES = 4096;

/** Headers the host keeps for itself (`wasi:http`'s forbidden headers): a route cannot set
 * them, and they are left out rather than failing the response. */
const HOST_HEADERS = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'proxy-connection',
  'transfer-encoding',
  'upgrade',
  'host',
  'http2-settings',
]);

const textDecoder = new TextDecoder();
const textEncoder = new TextEncoder();

/** The `incomingHandler` export: `serveRequest` answers a request (see next.js for the shapes),
 * and `afterEach` hands back what the route opened while it ran. */
export function incomingHandler(serveRequest, afterEach) {
  return {
    async handle(incoming, outparam) {
      const request = toRequest(incoming);
      try {
        let answer;
        try {
          answer = await serveRequest(request);
        } catch (error) {
          console.error(`the JavaScript runtime failed a request: ${error}\n${error?.stack ?? ''}`);
          answer = plainAnswer(500, 'Internal Server Error');
        }
        await send(answer, outparam);
      } finally {
        request.release();
        afterEach();
      }
    },
  };
}

/** A plain-text answer of the runtime's own. */
export function plainAnswer(status, text) {
  return {
    status,
    headers: [['content-type', 'text/plain; charset=utf-8']],
    body: textEncoder.encode(text),
  };
}

/** The request next.js takes, over the host's incoming request; its body is read from the host
 * only when the route reads it. `release` hands back every resource it holds. */
function toRequest(incoming) {
  const method = methodName(incoming.method());
  const protocol = incoming.scheme()?.tag === 'HTTPS' ? 'https' : 'http';
  const url = `${protocol}://${incoming.authority() ?? 'localhost'}${incoming.pathWithQuery() ?? '/'}`;
  const fields = incoming.headers();
  const headers = fields.entries().map(([name, value]) => [name, textDecoder.decode(value)]);
  dispose(fields);
  let body = null;
  let releaseBody = () => {};
  if (method !== 'GET' && method !== 'HEAD') {
    ({ body, release: releaseBody } = bodyStream(incoming.consume()));
  }
  return {
    method,
    url,
    headers,
    body,
    release() {
      releaseBody();
      dispose(incoming);
    },
  };
}

/** The request body as a `ReadableStream` of `Uint8Array`s, read from the host on demand. */
function bodyStream(incomingBody) {
  const stream = incomingBody.stream();
  let open = true;
  const release = () => {
    if (!open) return;
    open = false;
    dispose(stream);
    dispose(IncomingBody.finish(incomingBody));
  };
  const body = new ReadableStream({
    pull(controller) {
      for (;;) {
        let chunk;
        try {
          chunk = stream.blockingRead(READ_BYTES);
        } catch (error) {
          release();
          if ((error?.payload ?? error)?.tag === 'closed') controller.close();
          else controller.error(new Error('the request body could not be read'));
          return;
        }
        if (chunk.byteLength > 0) {
          controller.enqueue(chunk);
          return;
        }
      }
    },
    cancel: release,
  });
  return { body, release };
}

/** Sends an answer: its status and headers at once, then its body as it comes. */
async function send(answer, outparam) {
  const outgoing = outgoingResponse(answer);
  const body = outgoing.body();
  ResponseOutparam.set(outparam, { tag: 'ok', val: outgoing });
  const stream = body.write();
  let whole = true;
  try {
    const bytes = answer.body;
    if (bytes instanceof Uint8Array) {
      whole = bytes.byteLength <= WRITE_AND_FLUSH_BYTES
        ? writeAndFlush(stream, bytes)
        : writeAll(stream, bytes) && flush(stream);
    } else if (bytes) {
      whole = await pump(bytes, stream);
    }
  } finally {
    dispose(stream);
    // A body cut short (the route failed after it started, or the client left) is dropped
    // unfinished, so the client sees it cut off rather than whole.
    if (whole) OutgoingBody.finish(body, undefined);
    else dispose(body);
  }
}

/** The response's head; a header `wasi:http` refuses fails the answer with a 500 naming it. */
function outgoingResponse(answer) {
  const list = [];
  for (const [name, value] of answer.headers) {
    if (!HOST_HEADERS.has(name.toLowerCase())) list.push([name, textEncoder.encode(value)]);
  }
  let fields;
  try {
    fields = Fields.fromList(list);
  } catch {
    const bad = list.find((pair) => {
      try {
        dispose(Fields.fromList([pair]));
        return false;
      } catch {
        return true;
      }
    });
    const name = bad ? JSON.stringify(bad[0]) : 'one of them';
    console.error(`the route set an invalid response header ${name}: it answers 500`);
    return outgoingResponse(plainAnswer(500, 'Internal Server Error'));
  }
  const outgoing = new OutgoingResponse(fields);
  try {
    outgoing.setStatusCode(answer.status);
  } catch {
    dispose(outgoing);
    console.error(`the route answered with status ${answer.status}, which HTTP has not: it answers 500`);
    return outgoingResponse(plainAnswer(500, 'Internal Server Error'));
  }
  return outgoing;
}

/** Copies a ReadableStream into the body; false if it failed or the client left. */
async function pump(readable, stream) {
  const reader = readable.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return flush(stream);
      if (!writeAll(stream, value)) {
        reader.cancel().catch(() => {});
        return false;
      }
    }
  } catch {
    return false;
  }
}

function writeAndFlush(stream, bytes) {
  try {
    stream.blockingWriteAndFlush(bytes);
    return true;
  } catch {
    return false;
  }
}

/** Writes all of `bytes` as fast as the host takes them; false once the client is gone. */
function writeAll(stream, bytes) {
  let offset = 0;
  try {
    while (offset < bytes.byteLength) {
      const room = Number(stream.checkWrite());
      if (room === 0) {
        const ready = stream.subscribe();
        ready.block();
        dispose(ready);
        continue;
      }
      const end = Math.min(bytes.byteLength, offset + room);
      stream.write(bytes.subarray(offset, end));
      offset = end;
    }
    return true;
  } catch {
    return false;
  }
}

function flush(stream) {
  try {
    stream.blockingFlush();
    return true;
  } catch {
    return false;
  }
}

function methodName(method) {
  return method.tag === 'other' ? method.val : method.tag.toUpperCase();
}
