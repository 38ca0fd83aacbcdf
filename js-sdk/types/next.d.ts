// Types for Next.js API routes as Routelet runs them: `import type { NextApiRequest,
// NextApiResponse } from 'next'` checks against these without installing `next`. They follow
// Next.js's own names and shapes (its `next/types` and Node's `http` types), trimmed to what a
// route running in a component has; nothing here needs @types/node.

declare module 'next' {
  /** Request headers, names lower-case; `set-cookie` is a list, other repeats are joined. */
  export interface IncomingHttpHeaders {
    [name: string]: string | string[] | undefined;
    'set-cookie'?: string[];
    accept?: string;
    authorization?: string;
    'content-length'?: string;
    'content-type'?: string;
    cookie?: string;
    host?: string;
    'if-none-match'?: string;
    origin?: string;
    referer?: string;
    'user-agent'?: string;
  }

  /** The request a handler gets, with the body parsed before it runs (unless `bodyParser`
   * is false: then the request is an async iterable of the body's chunks). */
  export interface NextApiRequest extends AsyncIterable<Uint8Array> {
    /** The method, upper-case: `GET`, `POST`, ... */
    method?: string;
    /** The path and query as the client sent them, e.g. `/api/users/42?tab=posts`. */
    url?: string;
    headers: IncomingHttpHeaders;
    /** Header names and values in the order sent, alternating. */
    rawHeaders: string[];
    /** The query string with the route's dynamic params laid over it; repeats are lists. */
    query: Partial<{ [key: string]: string | string[] }>;
    /** The `Cookie` header, decoded. */
    cookies: Partial<{ [key: string]: string }>;
    /** JSON, a form as an object, or text, by content type; `undefined` with the parser off. */
    body: any;
    httpVersion: string;
    complete: boolean;
    aborted: boolean;
    socket: { remoteAddress?: string; encrypted: boolean };
    /** Node's stream events, for code written against `IncomingMessage`. */
    on(event: 'data', listener: (chunk: Uint8Array) => void): this;
    on(event: 'end', listener: () => void): this;
    on(event: 'error', listener: (error: Error) => void): this;
    once(event: 'data', listener: (chunk: Uint8Array) => void): this;
    once(event: 'end', listener: () => void): this;
    once(event: 'error', listener: (error: Error) => void): this;
  }

  export type OutgoingHttpHeader = number | string | readonly string[];

  /** The response a handler writes; Node's `ServerResponse` methods plus Next.js's helpers. */
  export interface NextApiResponse<Data = any> {
    statusCode: number;
    statusMessage: string;
    readonly headersSent: boolean;
    readonly writableEnded: boolean;
    readonly finished: boolean;
    /** Sets the status; chains. */
    status(statusCode: number): NextApiResponse<Data>;
    /** An object or number as JSON, a string as text, a `Uint8Array` as octet-stream. */
    send(body: Data): void;
    /** The body as JSON with `application/json; charset=utf-8`. */
    json(body: Data): void;
    /** A redirect, 307 unless a status is given. */
    redirect(url: string): NextApiResponse<Data>;
    redirect(status: number, url: string): NextApiResponse<Data>;
    /** Regenerates a static page in the background (on-demand ISR). */
    revalidate(
      urlPath: string,
      opts?: { unstable_onlyGenerated?: boolean },
    ): Promise<void>;
    /** Enters Preview Mode: sets the two preview cookies. */
    setPreviewData(
      data: object | string,
      options?: { maxAge?: number; path?: string },
    ): NextApiResponse<Data>;
    /** Leaves Preview Mode: clears the two preview cookies. */
    clearPreviewData(options?: { path?: string }): NextApiResponse<Data>;
    setHeader(name: string, value: OutgoingHttpHeader): this;
    appendHeader(name: string, value: string | readonly string[]): this;
    getHeader(name: string): OutgoingHttpHeader | undefined;
    getHeaders(): Record<string, OutgoingHttpHeader | undefined>;
    getHeaderNames(): string[];
    hasHeader(name: string): boolean;
    removeHeader(name: string): void;
    writeHead(
      statusCode: number,
      headers?: Record<string, OutgoingHttpHeader> | OutgoingHttpHeader[],
    ): this;
    writeHead(
      statusCode: number,
      statusMessage: string,
      headers?: Record<string, OutgoingHttpHeader> | OutgoingHttpHeader[],
    ): this;
    /** Streams a chunk; false once 64 KiB wait unsent, and `drain` follows. */
    write(chunk: string | Uint8Array, callback?: () => void): boolean;
    write(chunk: string | Uint8Array, encoding: string, callback?: () => void): boolean;
    end(callback?: () => void): this;
    end(chunk: string | Uint8Array, callback?: () => void): this;
    end(chunk: string | Uint8Array, encoding: string, callback?: () => void): this;
    on(event: 'drain' | 'finish', listener: () => void): this;
    once(event: 'drain' | 'finish', listener: () => void): this;
    off(event: 'drain' | 'finish', listener: () => void): this;
  }

  /** A route's default export. */
  export type NextApiHandler<Data = any> = (
    req: NextApiRequest,
    res: NextApiResponse<Data>,
  ) => unknown | Promise<unknown>;

  /** A route's `export const config`. */
  export type PageConfig = {
    api?: {
      /** `false` streams the body to the handler; `sizeLimit` raises or lowers the 1mb cap. */
      bodyParser?: { sizeLimit?: number | string } | false;
      /** Past this size (default 4mb) a warning is logged; `false` turns it off. */
      responseLimit?: number | string | false;
      externalResolver?: true;
    };
  };
}
