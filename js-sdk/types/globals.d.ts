// The Node.js globals Routelet's JavaScript routes have beside the web platform's (`fetch`,
// `URL`, `TextEncoder`, `crypto`, ...): `process.env` and a `Buffer` for the common encodings.
// An app that installs @types/node has these already and can drop this reference.

type BufferEncoding = 'utf8' | 'utf-8' | 'hex' | 'base64' | 'base64url' | 'latin1' | 'binary' | 'ascii';

interface Buffer extends Uint8Array<ArrayBuffer> {
  toString(encoding?: BufferEncoding, start?: number, end?: number): string;
  toJSON(): { type: 'Buffer'; data: number[] };
  equals(other: Uint8Array): boolean;
  compare(other: Uint8Array): number;
  write(text: string, offset?: number, length?: number, encoding?: BufferEncoding): number;
  slice(start?: number, end?: number): Buffer;
  subarray(start?: number, end?: number): Buffer;
}

declare var Buffer: {
  from(text: string, encoding?: BufferEncoding): Buffer;
  from(bytes: ArrayBuffer, byteOffset?: number, length?: number): Buffer;
  from(bytes: ArrayLike<number> | Uint8Array | { type: 'Buffer'; data: number[] }): Buffer;
  alloc(size: number, fill?: number | string, encoding?: BufferEncoding): Buffer;
  allocUnsafe(size: number): Buffer;
  isBuffer(value: unknown): value is Buffer;
  isEncoding(encoding: string): encoding is BufferEncoding;
  byteLength(value: string | Uint8Array | ArrayBuffer, encoding?: BufferEncoding): number;
  concat(list: readonly Uint8Array[], totalLength?: number): Buffer;
  compare(a: Uint8Array, b: Uint8Array): number;
};

declare var process: {
  /** The values `routelet.toml` configures for this route, nothing else. */
  env: Record<string, string | undefined>;
};
