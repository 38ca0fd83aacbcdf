// Next.js's API route contract, `handler(req, res)`: the body parsed before the handler runs (or
// streamed, with `bodyParser: false`), `res` helpers with Next.js's defaults and messages, and a
// 500 for a handler that throws or never answers. A request comes in as `{ method, url,
// headers, body }` (headers iterable as lower-case `[name, value]` pairs, body a ReadableStream
// or null: a web `Request` is one) and the answer is `{ status, headers, body }` (a list of
// pairs; bytes, a ReadableStream or null), plain objects that cost the interpreter little.

import {
  clearPreviewData as hostClearPreviewData,
  revalidate as hostRevalidate,
  setPreviewData as hostSetPreviewData,
} from 'routelet:route/preview@0.1.0';
import { Buffer } from './buffer.js';
import { sourceStack } from './source_map.js';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Bytes a streamed response may hold unsent before `res.write` answers false, so a handler
 * that waits for `drain` then streams in bounded memory. */
const HIGH_WATER_MARK = 64 * 1024;

/** An error with the status Next.js answers it with (`Invalid JSON`, `Body exceeded ...`). */
export class ApiError extends Error {
  constructor(statusCode, message) {
    super(message);
    this.statusCode = statusCode;
  }
}

/** Sizes as Next.js's config spells them (`'1mb'`, `'500kb'`, or a number of bytes). */
export function parseSize(size) {
  if (typeof size === 'number') return size;
  // Parsed once per text: every request asks for its route's limits, and without a JIT
  // (componentize-js runs SpiderMonkey's interpreter) a regular expression is dear.
  let bytes = parsedSizes.get(size);
  if (bytes === undefined) {
    bytes = parseSizeText(size);
    parsedSizes.set(size, bytes);
  }
  return bytes;
}

const parsedSizes = new Map();

function parseSizeText(size) {
  const match = /^\s*(\d+(?:\.\d+)?)\s*(b|kb|mb|gb|tb|pb)?\s*$/i.exec(String(size));
  if (!match) throw new Error(`Invalid size ${JSON.stringify(size)} in the route's config`);
  const unit = { b: 0, kb: 1, mb: 2, gb: 3, tb: 4, pb: 5 }[(match[2] ?? 'b').toLowerCase()];
  return Math.floor(Number(match[1]) * 1024 ** unit);
}

/** The 52-bit FNV-1a hash Next.js puts in its ETags. */
function fnv1a52(text) {
  const length = text.length;
  let i = 0;
  let t0 = 0;
  let v0 = 0x2325;
  let t1 = 0;
  let v1 = 0x8422;
  let t2 = 0;
  let v2 = 0x9ce4;
  let t3 = 0;
  let v3 = 0xcbf2;
  while (i < length) {
    v0 ^= text.charCodeAt(i++);
    t0 = v0 * 435;
    t1 = v1 * 435;
    t2 = v2 * 435;
    t3 = v3 * 435;
    t2 += v0 << 8;
    t3 += v1 << 8;
    t1 += t0 >>> 16;
    v0 = t0 & 65535;
    t2 += t1 >>> 16;
    v1 = t1 & 65535;
    v3 = (t3 + (t2 >>> 16)) & 65535;
    v2 = t2 & 65535;
  }
  return (v3 & 15) * 281474976710656 + v2 * 4294967296 + v1 * 65536 + (v0 ^ (v3 >> 4));
}

function generateETag(payload) {
  const text = typeof payload === 'string' ? payload : decoder.decode(payload);
  return `"${fnv1a52(text).toString(36)}${text.length.toString(36)}"`;
}

function toBytes(chunk, encoding) {
  if (chunk === undefined || chunk === null) return new Uint8Array(0);
  if (typeof chunk === 'string') {
    return encoding && encoding !== 'utf8' && encoding !== 'utf-8'
      ? Buffer.from(chunk, encoding)
      : encoder.encode(chunk);
  }
  if (chunk instanceof Uint8Array) return chunk;
  if (chunk instanceof ArrayBuffer) return new Uint8Array(chunk);
  if (ArrayBuffer.isView(chunk)) {
    return new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  }
  throw new TypeError(
    'The "chunk" argument must be of type string or an instance of Buffer or Uint8Array.',
  );
}

/** `Cookie` as an object: the first value of each name, percent-decoded where it can be. */
function parseCookies(header) {
  const cookies = {};
  if (!header) return cookies;
  for (const pair of header.split(';')) {
    const at = pair.indexOf('=');
    if (at < 0) continue;
    const name = pair.slice(0, at).trim();
    let value = pair.slice(at + 1).trim();
    if (value.startsWith('"') && value.endsWith('"') && value.length > 1) {
      value = value.slice(1, -1);
    }
    if (name in cookies) continue;
    try {
      cookies[name] = value.includes('%') ? decodeURIComponent(value) : value;
    } catch {
      cookies[name] = value;
    }
  }
  return cookies;
}

/** A query string as Next.js's `req.query` has it: repeated keys become arrays. */
function parseQuery(search) {
  const query = {};
  for (const [key, value] of new URLSearchParams(search)) {
    if (!(key in query)) query[key] = value;
    else if (Array.isArray(query[key])) query[key].push(value);
    else query[key] = [query[key], value];
  }
  return query;
}

function parseContentType(header) {
  const [type, ...parameters] = (header || 'text/plain').split(';');
  const charset = parameters
    .map((p) => p.trim().split('='))
    .find(([name]) => name.toLowerCase() === 'charset')?.[1];
  return { type: type.trim().toLowerCase(), charset };
}

const EMPTY = new Uint8Array(0);

/** Reads a whole body stream, refusing it once it passes `limit` bytes. */
async function readBody(stream, limit, limitText) {
  const parts = [];
  let total = 0;
  const reader = stream.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > limit) {
      reader.cancel().catch(() => {});
      throw new ApiError(413, `Body exceeded ${limitText} limit`);
    }
    parts.push(value);
  }
  const body = new Uint8Array(total);
  let offset = 0;
  for (const part of parts) {
    body.set(part, offset);
    offset += part.byteLength;
  }
  return body;
}

/** The body as Next.js's default body parser hands it to the handler. */
function parseBody(bytes, contentType) {
  const { type } = parseContentType(contentType);
  const text = decoder.decode(bytes);
  if (type === 'application/json' || type === 'application/ld+json') {
    if (text.length === 0) return {};
    try {
      return JSON.parse(text);
    } catch {
      throw new ApiError(400, 'Invalid JSON');
    }
  }
  if (type === 'application/x-www-form-urlencoded') return parseQuery(text);
  return text;
}

/** Node's lower-case `req.headers` object: `set-cookie` a list, other repeats joined. */
function headersObject(headers) {
  const object = {};
  for (const [name, value] of headers) {
    if (name === 'set-cookie') (object[name] ??= []).push(value);
    else object[name] = name in object ? `${object[name]}, ${value}` : value;
  }
  return object;
}

/** Builds `req`, runs the handler, and answers with what it made of `res`. */
export async function handle(route, request, params) {
  const api = route.module.config?.api ?? {};
  const url = new URL(request.url);
  const req = makeRequest(request, url, params);
  const res = new ApiResponse(req, request, api);
  const handler = route.module.default;
  const run = (async () => {
    if (api.bodyParser !== false) {
      const limitText = api.bodyParser?.sizeLimit ?? '1mb';
      const limit = parseSize(limitText);
      const bytes = request.body ? await readBody(request.body, limit, limitText) : EMPTY;
      req.body = parseBody(bytes, req.headers['content-type']);
    } else {
      req.body = undefined;
      attachStream(req, request.body);
    }
    await handler(req, res);
  })();
  run.then(
    () => {
      // `externalResolver: true` says something else answers later (a callback, a timer), as
      // in Next.js; the host's time limit still ends a request nobody answers.
      if (api.externalResolver) return;
      if (!res.writableEnded && !res.headersSent) {
        console.error(
          `API resolved without sending a response for ${req.url}, this may result in stalled requests. (${route.file})`,
        );
        res.fail(500, 'Internal Server Error');
      }
    },
    (error) => {
      if (error instanceof ApiError) {
        res.fail(error.statusCode, error.message);
        return;
      }
      // SpiderMonkey's stacks leave out the message: both go in the log.
      console.error(
        `Error in API route ${route.pattern} (${route.file}): ${error}\n${sourceStack(error?.stack ?? '')}`,
      );
      res.fail(500, 'Internal Server Error', error);
    },
  );
  return res.response;
}

function makeRequest(request, url, params) {
  const headers = headersObject(request.headers);
  const query = parseQuery(url.search);
  for (const [name, value] of Object.entries(params)) query[name] = value;
  return {
    method: request.method,
    url: url.pathname + url.search,
    headers,
    rawHeaders: [...request.headers].flat(),
    query,
    cookies: parseCookies(headers.cookie),
    body: undefined,
    httpVersion: '1.1',
    aborted: false,
    complete: false,
    socket: { remoteAddress: undefined, encrypted: url.protocol === 'https:' },
    on(event, listener) {
      this._listeners ??= {};
      (this._listeners[event] ??= []).push(listener);
      if (event === 'data' || event === 'end') this._flow?.();
      return this;
    },
    once(event, listener) {
      return this.on(event, listener);
    },
  };
}

/** With `bodyParser: false`: `req` is an async iterable of `Uint8Array` chunks (and emits
 * `data` and `end` for code written against Node's streams). */
function attachStream(req, stream) {
  let started = false;
  const chunks = async function* () {
    if (started) throw new Error('the request body can be read only once');
    started = true;
    if (!stream) return;
    const reader = stream.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      // The chunk is the handler's alone: a view on it, not a copy.
      yield new Buffer(value.buffer, value.byteOffset, value.byteLength);
    }
    req.complete = true;
  };
  req[Symbol.asyncIterator] = chunks;
  req._flow = () => {
    if (started) return;
    queueMicrotask(async () => {
      const emit = (event, value) => (req._listeners?.[event] ?? []).forEach((f) => f(value));
      try {
        for await (const chunk of chunks()) emit('data', chunk);
        emit('end');
      } catch (error) {
        emit('error', error);
      }
    });
  };
}

/** Next.js's `res`: Node's `ServerResponse` methods plus `status`, `send`, `json`, `redirect`,
 * `revalidate` and the preview helpers. */
class ApiResponse {
  #request;
  #api;
  #headers = new Map();
  #resolve;
  #controller = null;
  #sent = 0;
  #limit;
  #req;
  #listeners = new Map();

  constructor(req, request, api) {
    this.#req = req;
    this.#request = request;
    this.#api = api;
    this.statusCode = 200;
    this.statusMessage = '';
    this.headersSent = false;
    this.writableEnded = false;
    this.finished = false;
    this.response = new Promise((resolve) => {
      this.#resolve = resolve;
    });
    const limit = api.responseLimit ?? '4mb';
    this.#limit = limit === false ? null : { bytes: parseSize(limit), text: String(limit) };
  }

  status(code) {
    this.statusCode = code;
    return this;
  }

  setHeader(name, value) {
    if (this.headersSent) {
      throw new Error('Cannot set headers after they are sent to the client');
    }
    this.#headers.set(String(name).toLowerCase(), [String(name), value]);
    return this;
  }

  appendHeader(name, value) {
    const existing = this.getHeader(name);
    const values = existing === undefined ? [] : [existing].flat();
    return this.setHeader(name, values.concat(value));
  }

  getHeader(name) {
    return this.#headers.get(String(name).toLowerCase())?.[1];
  }

  getHeaders() {
    return Object.fromEntries([...this.#headers].map(([key, [, value]]) => [key, value]));
  }

  getHeaderNames() {
    return [...this.#headers.keys()];
  }

  hasHeader(name) {
    return this.#headers.has(String(name).toLowerCase());
  }

  removeHeader(name) {
    if (this.headersSent) {
      throw new Error('Cannot remove headers after they are sent to the client');
    }
    this.#headers.delete(String(name).toLowerCase());
  }

  writeHead(statusCode, statusMessage, headers) {
    if (typeof statusMessage !== 'string') [statusMessage, headers] = ['', statusMessage];
    this.statusCode = statusCode;
    this.statusMessage = statusMessage;
    if (Array.isArray(headers)) {
      for (let i = 0; i + 1 < headers.length; i += 2) this.setHeader(headers[i], headers[i + 1]);
    } else if (headers) {
      for (const [name, value] of Object.entries(headers)) this.setHeader(name, value);
    }
    return this;
  }

  write(chunk, encoding, callback) {
    if (typeof encoding === 'function') [encoding, callback] = [undefined, encoding];
    if (this.writableEnded) throw new Error('write after end');
    const bytes = toBytes(chunk, encoding);
    if (!this.headersSent) this.#startStream();
    this.#count(bytes.byteLength);
    if (bytes.byteLength > 0) this.#controller.enqueue(bytes);
    callback?.();
    // As Node's does: false once the unsent bytes pass the high-water mark; 'drain' follows.
    return this.#controller.desiredSize > 0;
  }

  end(chunk, encoding, callback) {
    if (typeof chunk === 'function') [chunk, callback] = [undefined, chunk];
    if (typeof encoding === 'function') [encoding, callback] = [undefined, encoding];
    if (this.writableEnded) return this;
    const bytes = toBytes(chunk, encoding);
    this.writableEnded = true;
    this.finished = true;
    this.#count(bytes.byteLength);
    if (this.headersSent) {
      if (bytes.byteLength > 0) this.#controller.enqueue(bytes);
      this.#controller.close();
    } else {
      this.headersSent = true;
      const empty = this.#bodiless() || bytes.byteLength === 0;
      this.#answer(empty ? null : bytes);
    }
    callback?.();
    this.#emit('finish');
    return this;
  }

  send(body) {
    if (body === null || body === undefined) return this.end();
    if (this.statusCode === 204 || this.statusCode === 304) {
      this.removeHeader('Content-Type');
      this.removeHeader('Content-Length');
      this.removeHeader('Transfer-Encoding');
      return this.end();
    }
    if (body instanceof ReadableStream) return this.#pipe(body);
    const bytesLike = body instanceof Uint8Array || body instanceof ArrayBuffer;
    const jsonLike = !bytesLike && ['object', 'number', 'boolean'].includes(typeof body);
    const payload = jsonLike ? JSON.stringify(body) : body;
    const etag = generateETag(bytesLike ? toBytes(payload) : payload);
    if (!this.hasHeader('ETag')) this.setHeader('ETag', etag);
    const match = this.#req.headers['if-none-match'];
    if (match && match.split(',').some((tag) => tag.trim().replace(/^W\//, '') === etag)) {
      this.statusCode = 304;
      return this.end();
    }
    if (bytesLike) {
      if (!this.hasHeader('Content-Type')) {
        this.setHeader('Content-Type', 'application/octet-stream');
      }
      const bytes = toBytes(body);
      this.setHeader('Content-Length', String(bytes.byteLength));
      return this.end(bytes);
    }
    if (jsonLike) this.setHeader('Content-Type', 'application/json; charset=utf-8');
    const bytes = toBytes(String(payload));
    this.setHeader('Content-Length', String(bytes.byteLength));
    return this.end(bytes);
  }

  json(body) {
    this.setHeader('Content-Type', 'application/json; charset=utf-8');
    return this.send(JSON.stringify(body));
  }

  redirect(statusOrUrl, url) {
    if (typeof statusOrUrl === 'string') [statusOrUrl, url] = [307, statusOrUrl];
    if (typeof statusOrUrl !== 'number' || typeof url !== 'string') {
      throw new Error(
        "Invalid redirect arguments. Please use a single argument URL, e.g. res.redirect('/destination') or use a status code and URL, e.g. res.redirect(307, '/destination').",
      );
    }
    this.writeHead(statusOrUrl, { Location: url });
    this.write(url);
    this.end();
    return this;
  }

  async revalidate(urlPath) {
    if (typeof urlPath !== 'string' || !urlPath.startsWith('/')) {
      throw new Error(
        `Invalid urlPath provided to revalidate(), must be a path e.g. /blog/post-1, received ${urlPath}`,
      );
    }
    try {
      hostRevalidate(urlPath);
    } catch (error) {
      // The host's message is Next.js's whole sentence ("Failed to revalidate /x: ...").
      throw new Error(hostMessage(error));
    }
  }

  setPreviewData(data, options = {}) {
    try {
      hostSetPreviewData(JSON.stringify(data), options.maxAge ?? undefined);
    } catch (error) {
      throw new Error(hostMessage(error));
    }
    return this;
  }

  clearPreviewData() {
    hostClearPreviewData();
    return this;
  }

  /** Node's events that handlers wait on: `drain` (room to write again) and `finish`. */
  on(event, listener) {
    const listeners = this.#listeners.get(event) ?? [];
    listeners.push({ listener, once: false });
    this.#listeners.set(event, listeners);
    return this;
  }

  once(event, listener) {
    this.on(event, listener);
    this.#listeners.get(event).at(-1).once = true;
    return this;
  }

  off(event, listener) {
    const listeners = this.#listeners.get(event) ?? [];
    this.#listeners.set(
      event,
      listeners.filter((entry) => entry.listener !== listener),
    );
    return this;
  }

  #emit(event) {
    const listeners = this.#listeners.get(event) ?? [];
    this.#listeners.set(
      event,
      listeners.filter((entry) => !entry.once),
    );
    for (const { listener } of listeners) listener();
  }

  /** Ends the exchange after a failure: an error status while nothing was sent, else a
   * response visibly cut off, so no client keeps half a body as whole. */
  fail(status, message, error) {
    if (!this.headersSent) {
      this.#headers.clear();
      this.statusCode = status;
      this.statusMessage = message;
      this.setHeader('Content-Type', 'text/plain; charset=utf-8');
      this.end(message);
    } else if (!this.writableEnded) {
      this.writableEnded = true;
      this.#controller.error(error ?? new Error(message));
    }
  }

  #bodiless() {
    return (
      this.statusCode === 204 ||
      this.statusCode === 304 ||
      (this.statusCode >= 100 && this.statusCode < 200) ||
      this.#request.method === 'HEAD'
    );
  }

  #startStream() {
    this.headersSent = true;
    const body = new ReadableStream(
      {
        start: (controller) => {
          this.#controller = controller;
        },
        pull: () => this.#emit('drain'),
      },
      { highWaterMark: HIGH_WATER_MARK, size: (chunk) => chunk.byteLength },
    );
    this.#answer(this.#bodiless() ? null : body);
  }

  async #pipe(stream) {
    const reader = stream.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      this.write(value);
    }
    this.end();
  }

  #count(bytes) {
    this.#sent += bytes;
    if (this.#limit && this.#sent > this.#limit.bytes && !this.warned) {
      this.warned = true;
      console.warn(
        `API response for ${this.#req.url} exceeds ${this.#limit.text}. API Routes are meant to respond quickly. https://nextjs.org/docs/messages/api-routes-response-size-limit`,
      );
    }
  }

  /** Hands the runtime the answer: the status and headers as they are now, and `body`. */
  #answer(body) {
    this.#resolve({ status: this.statusCode, headers: this.#headerList(), body });
  }

  /** The headers as `[name, value]` pairs, a header set to a list once per value. */
  #headerList() {
    const list = [];
    for (const [, [name, value]] of this.#headers) {
      if (Array.isArray(value)) for (const one of value) list.push([name, String(one)]);
      else list.push([name, String(value)]);
    }
    return list;
  }
}

/** The message a host call failed with. */
export function hostMessage(error) {
  const payload = error?.payload ?? error;
  return typeof payload === 'string' ? payload : (payload?.message ?? String(payload));
}
