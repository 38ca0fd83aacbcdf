// Enough of Node's `Buffer` for what routes and npm packages commonly do with it: make one from
// a string, bytes or an array, turn it back into a string in the usual encodings, join, compare.

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function normalize(encoding = 'utf8') {
  const name = String(encoding).toLowerCase();
  switch (name) {
    case 'utf8':
    case 'utf-8':
      return 'utf8';
    case 'hex':
    case 'base64':
    case 'base64url':
    case 'ascii':
      return name;
    case 'latin1':
    case 'binary':
      return 'latin1';
    case 'ucs2':
    case 'ucs-2':
    case 'utf16le':
    case 'utf-16le':
      return 'utf16le';
    default:
      throw new TypeError(`Unknown encoding: ${encoding}`);
  }
}

function fromString(text, encoding) {
  switch (normalize(encoding)) {
    case 'utf8':
      return encoder.encode(text);
    case 'hex': {
      const bytes = new Uint8Array(Math.floor(text.length / 2));
      for (let i = 0; i < bytes.length; i++) {
        const byte = parseInt(text.slice(2 * i, 2 * i + 2), 16);
        if (Number.isNaN(byte)) return bytes.subarray(0, i);
        bytes[i] = byte;
      }
      return bytes;
    }
    case 'base64':
    case 'base64url': {
      const clean = text.replace(/[^A-Za-z0-9+/\-_]/g, '').replace(/-/g, '+').replace(/_/g, '/');
      const binary = atob(clean + '='.repeat((4 - (clean.length % 4)) % 4));
      return Uint8Array.from(binary, (c) => c.charCodeAt(0));
    }
    case 'ascii':
    case 'latin1':
      return Uint8Array.from(text, (c) => c.charCodeAt(0) & 0xff);
    case 'utf16le': {
      const bytes = new Uint8Array(text.length * 2);
      for (let i = 0; i < text.length; i++) {
        const unit = text.charCodeAt(i);
        bytes[2 * i] = unit & 0xff;
        bytes[2 * i + 1] = unit >> 8;
      }
      return bytes;
    }
  }
}

function toString(bytes, encoding) {
  switch (normalize(encoding)) {
    case 'utf8':
      return decoder.decode(bytes);
    case 'hex':
      return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
    case 'base64':
    case 'base64url': {
      let binary = '';
      for (let i = 0; i < bytes.length; i += 0x8000) {
        binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
      }
      const base64 = btoa(binary);
      return normalize(encoding) === 'base64'
        ? base64
        : base64.replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
    }
    case 'ascii':
      return String.fromCharCode(...Array.from(bytes, (b) => b & 0x7f));
    case 'latin1': {
      let text = '';
      for (let i = 0; i < bytes.length; i += 0x8000) {
        text += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
      }
      return text;
    }
    case 'utf16le': {
      let text = '';
      for (let i = 0; i + 1 < bytes.length; i += 2) {
        text += String.fromCharCode(bytes[i] | (bytes[i + 1] << 8));
      }
      return text;
    }
  }
}

// The engine has no SharedArrayBuffer (no threads), so the name may be undefined.
const isSharedArrayBuffer = (value) =>
  typeof SharedArrayBuffer !== 'undefined' && value instanceof SharedArrayBuffer;

/** A `Uint8Array` with Node's `Buffer` methods. */
export class Buffer extends Uint8Array {
  static from(value, encodingOrOffset, length) {
    if (typeof value === 'string') return Buffer.#wrap(fromString(value, encodingOrOffset));
    if (value instanceof ArrayBuffer || isSharedArrayBuffer(value)) {
      return new Buffer(value, encodingOrOffset ?? 0, length ?? value.byteLength - (encodingOrOffset ?? 0));
    }
    if (ArrayBuffer.isView(value)) {
      return Buffer.#wrap(
        new Uint8Array(value.buffer, value.byteOffset, value.byteLength).slice(),
      );
    }
    if (value && value.type === 'Buffer' && Array.isArray(value.data)) {
      return Buffer.#wrap(Uint8Array.from(value.data));
    }
    if (Array.isArray(value) || (value && typeof value.length === 'number')) {
      return Buffer.#wrap(Uint8Array.from(value));
    }
    throw new TypeError(
      'The first argument must be of type string or an instance of Buffer, ArrayBuffer, or Array or an Array-like Object.',
    );
  }

  static alloc(size, fill = 0, encoding) {
    const buffer = new Buffer(size);
    if (fill !== 0) buffer.fill(typeof fill === 'string' ? fromString(fill, encoding)[0] : fill);
    return buffer;
  }

  static allocUnsafe(size) {
    return new Buffer(size);
  }

  static isBuffer(value) {
    return value instanceof Buffer;
  }

  static isEncoding(encoding) {
    try {
      normalize(encoding);
      return true;
    } catch {
      return false;
    }
  }

  static byteLength(value, encoding) {
    if (typeof value === 'string') return fromString(value, encoding).length;
    return value.byteLength;
  }

  static concat(list, totalLength) {
    const total = totalLength ?? list.reduce((sum, part) => sum + part.length, 0);
    const joined = new Buffer(total);
    let offset = 0;
    for (const part of list) {
      if (offset >= total) break;
      joined.set(part.subarray(0, total - offset), offset);
      offset += part.length;
    }
    return joined;
  }

  static compare(a, b) {
    return a.compare(b);
  }

  static #wrap(bytes) {
    return new Buffer(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  toString(encoding = 'utf8', start = 0, end = this.length) {
    return toString(this.subarray(start, end), encoding);
  }

  toJSON() {
    return { type: 'Buffer', data: Array.from(this) };
  }

  equals(other) {
    return this.compare(other) === 0;
  }

  compare(other) {
    const length = Math.min(this.length, other.length);
    for (let i = 0; i < length; i++) {
      if (this[i] !== other[i]) return this[i] < other[i] ? -1 : 1;
    }
    return Math.sign(this.length - other.length);
  }

  write(text, offset = 0, length, encoding = 'utf8') {
    if (typeof length === 'string') [length, encoding] = [undefined, length];
    const bytes = fromString(text, encoding);
    const count = Math.min(bytes.length, length ?? Infinity, this.length - offset);
    this.set(bytes.subarray(0, count), offset);
    return count;
  }

  slice(start, end) {
    return this.subarray(start, end);
  }

  subarray(start, end) {
    const view = Uint8Array.prototype.subarray.call(this, start, end);
    return new Buffer(view.buffer, view.byteOffset, view.byteLength);
  }

  readUInt8(offset = 0) {
    return this[offset];
  }

  readUInt16BE(offset = 0) {
    return (this[offset] << 8) | this[offset + 1];
  }

  readUInt32BE(offset = 0) {
    return new DataView(this.buffer, this.byteOffset).getUint32(offset);
  }

  writeUInt32BE(value, offset = 0) {
    new DataView(this.buffer, this.byteOffset).setUint32(offset, value);
    return offset + 4;
  }
}

export default { Buffer };
