// `import { kv, sql } from 'routelet'`: the host's key-value stores and SQL databases, over the
// same `wasi:keyvalue` and `routelet:route/sql` imports the Rust SDK uses, with its error kinds.
// Calls are synchronous (the host answers before returning); `await` on them works all the same.

import { open as openBucket } from 'wasi:keyvalue/store@0.2.0-draft';
import { increment as incrementKey } from 'wasi:keyvalue/atomics@0.2.0-draft';
import { Connection } from 'routelet:route/sql@0.1.0';
import { env } from './process.js';
import { dispose } from './resources.js';

export { env };

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** The store and database every API route may open without a grant. */
export const DEFAULT = 'default';

/** Why a key-value call failed: `kind` is `NoSuchStore`, `AccessDenied` or `Other`. */
export class KvError extends Error {
  constructor(kind, message) {
    super(message);
    this.name = 'KvError';
    this.kind = kind;
  }
}

function kvError(name, error) {
  const payload = error?.payload ?? error;
  switch (payload?.tag) {
    case 'no-such-store':
      return new KvError('NoSuchStore', `no key-value store is named ${JSON.stringify(name)}`);
    case 'access-denied':
      return new KvError('AccessDenied', `access to store ${JSON.stringify(name)} denied`);
    case 'other':
      return payload.val.startsWith('access denied')
        ? new KvError('AccessDenied', payload.val)
        : new KvError('Other', payload.val);
    default:
      return error instanceof Error ? error : new KvError('Other', String(payload));
  }
}

/** One key-value store. */
export class Store {
  #bucket;

  constructor(name) {
    this.name = name;
  }

  get #open() {
    if (!this.#bucket) {
      try {
        this.#bucket = openBucket(this.name);
      } catch (error) {
        throw kvError(this.name, error);
      }
    }
    return this.#bucket;
  }

  /** Hands the store back to the host; the next call opens it again. */
  release() {
    dispose(this.#bucket);
    this.#bucket = undefined;
  }

  #call(operation) {
    try {
      return operation(this.#open);
    } catch (error) {
      throw error instanceof KvError ? error : kvError(this.name, error);
    }
  }

  /** The value as text (UTF-8), or `null` when the key is absent. */
  get(key) {
    const bytes = this.getBytes(key);
    return bytes === null ? null : decoder.decode(bytes);
  }

  /** The value's bytes, or `null`. */
  getBytes(key) {
    return this.#call((bucket) => bucket.get(key) ?? null);
  }

  /** The value parsed as JSON, or `null`. */
  getJson(key) {
    const text = this.get(key);
    return text === null ? null : JSON.parse(text);
  }

  /** Stores text or bytes. */
  set(key, value) {
    const bytes = typeof value === 'string' ? encoder.encode(value) : value;
    if (!(bytes instanceof Uint8Array)) {
      throw new TypeError('kv.set takes a string or a Uint8Array; use kv.setJson for other values');
    }
    this.#call((bucket) => bucket.set(key, bytes));
  }

  /** Stores a value as JSON. */
  setJson(key, value) {
    this.set(key, JSON.stringify(value));
  }

  /** Removes a key; absent keys are fine. */
  delete(key) {
    this.#call((bucket) => bucket.delete(key));
  }

  /** Whether the key is present. */
  exists(key) {
    return this.#call((bucket) => bucket.exists(key));
  }

  /** Every key in the store. */
  keys() {
    const keys = [];
    let cursor;
    for (;;) {
      const page = this.#call((bucket) => bucket.listKeys(cursor));
      keys.push(...page.keys);
      if (page.cursor === undefined || page.cursor === null) return keys;
      cursor = page.cursor;
    }
  }

  /** Adds `delta` (default 1) to a counter atomically and returns the new value. */
  increment(key, delta = 1) {
    return Number(this.#call((bucket) => incrementKey(bucket, key, BigInt(delta))));
  }
}

const stores = new Map();

/** The key-value stores: `kv.get(...)` uses `default`; `kv.open(name)` another granted one. */
export const kv = {
  open(name = DEFAULT) {
    if (!stores.has(name)) stores.set(name, new Store(name));
    return stores.get(name);
  },
  get: (key) => kv.open().get(key),
  getBytes: (key) => kv.open().getBytes(key),
  getJson: (key) => kv.open().getJson(key),
  set: (key, value) => kv.open().set(key, value),
  setJson: (key, value) => kv.open().setJson(key, value),
  delete: (key) => kv.open().delete(key),
  exists: (key) => kv.open().exists(key),
  keys: () => kv.open().keys(),
  increment: (key, delta) => kv.open().increment(key, delta),
};

/** Why a statement failed; `kind` names the case, and each case has its own class. */
export class SqlError extends Error {
  constructor(kind, message) {
    super(message);
    this.name = kind;
    this.kind = kind;
  }
}
export class NoSuchDatabase extends SqlError {}
export class AccessDenied extends SqlError {}
export class ReadOnly extends SqlError {}
export class ConstraintViolation extends SqlError {}
export class Unavailable extends SqlError {}

const SQL_ERRORS = {
  'no-such-database': NoSuchDatabase,
  'access-denied': AccessDenied,
  'read-only': ReadOnly,
  'constraint-violation': ConstraintViolation,
  unavailable: Unavailable,
};

function sqlError(error) {
  const payload = error?.payload ?? error;
  const Kind = SQL_ERRORS[payload?.tag];
  if (Kind) return new Kind(Kind.name, payload.val);
  if (payload?.tag === 'other') return new SqlError('Other', payload.val);
  return error instanceof Error ? error : new SqlError('Other', String(payload));
}

function toValue(value) {
  if (value === null || value === undefined) return { tag: 'null' };
  switch (typeof value) {
    case 'bigint':
      return { tag: 'integer', val: value };
    case 'number':
      return Number.isInteger(value)
        ? { tag: 'integer', val: BigInt(value) }
        : { tag: 'real', val: value };
    case 'boolean':
      return { tag: 'integer', val: value ? 1n : 0n };
    case 'string':
      return { tag: 'text', val: value };
  }
  if (value instanceof Uint8Array) return { tag: 'blob', val: value };
  if (value instanceof Date) return { tag: 'text', val: value.toISOString() };
  throw new SqlError(
    'Other',
    `cannot bind ${Object.prototype.toString.call(value)} to a placeholder: use null, a number, ` +
      `a bigint, a boolean, a string, a Date or a Uint8Array`,
  );
}

function fromValue(value) {
  switch (value.tag) {
    case 'null':
      return null;
    case 'integer':
      return value.val >= BigInt(Number.MIN_SAFE_INTEGER) &&
        value.val <= BigInt(Number.MAX_SAFE_INTEGER)
        ? Number(value.val)
        : value.val;
    default:
      return value.val;
  }
}

/** One SQL database; statements use `$1, $2, ...` placeholders on every backend. */
export class Database {
  #connection;

  constructor(name) {
    this.name = name;
  }

  /** Hands the connection back to the host (an open transaction is rolled back); the next
   * call opens another. */
  release() {
    dispose(this.#connection);
    this.#connection = undefined;
  }

  #call(operation) {
    try {
      this.#connection ??= Connection.open(this.name);
      return operation(this.#connection);
    } catch (error) {
      throw error instanceof SqlError ? error : sqlError(error);
    }
  }

  /** Runs a statement that returns no rows; the result is the number of rows changed. */
  execute(statement, params = []) {
    return Number(this.#call((c) => c.execute(statement, params.map(toValue))));
  }

  /** Runs a query; each row is an object keyed by column name. */
  query(statement, params = []) {
    const result = this.#call((c) => c.query(statement, params.map(toValue)));
    return result.rows.map((row) =>
      Object.fromEntries(row.map((value, i) => [result.columns[i], fromValue(value)])),
    );
  }

  /** The first row, or `null`. */
  queryOne(statement, params = []) {
    return this.query(statement, params)[0] ?? null;
  }

  /** Runs `work(db)` in a transaction: committed when it returns, rolled back when it throws. */
  async transaction(work) {
    this.#call((c) => c.begin());
    try {
      const result = await work(this);
      this.#call((c) => c.commit());
      return result;
    } catch (error) {
      try {
        this.#call((c) => c.rollback());
      } catch {
        // The first error is the one worth reporting.
      }
      throw error;
    }
  }
}

const databases = new Map();

/** Hands back every store and connection the ending request opened: on the host they belong to
 * that request. */
export function releaseHandles() {
  for (const store of stores.values()) store.release();
  for (const database of databases.values()) database.release();
}

/** The SQL databases: `sql.query(...)` uses `default`; `sql.open(name)` another granted one. */
export const sql = {
  open(name = DEFAULT) {
    if (!databases.has(name)) databases.set(name, new Database(name));
    return databases.get(name);
  },
  execute: (statement, params) => sql.open().execute(statement, params),
  query: (statement, params) => sql.open().query(statement, params),
  queryOne: (statement, params) => sql.open().queryOne(statement, params),
  transaction: (work) => sql.open().transaction(work),
};
