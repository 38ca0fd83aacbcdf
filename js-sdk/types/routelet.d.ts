// Types for `import { kv, sql } from 'routelet'`: the host's key-value stores and SQL databases
// as Routelet's JavaScript routes see them.

declare module 'routelet' {
  /** The store and database every API route may open without a grant. */
  export const DEFAULT: 'default';

  /** The route's environment: the values `routelet.toml` configures for it, nothing else. */
  export const env: Readonly<Record<string, string | undefined>>;

  /** Why a key-value call failed. */
  export class KvError extends Error {
    readonly kind: 'NoSuchStore' | 'AccessDenied' | 'Other';
  }

  /** One key-value store. */
  export class Store {
    readonly name: string;
    /** The value as text (UTF-8), or `null` when the key is absent. */
    get(key: string): string | null;
    /** The value's bytes, or `null`. */
    getBytes(key: string): Uint8Array | null;
    /** The value parsed as JSON, or `null`. */
    getJson<T = unknown>(key: string): T | null;
    /** Stores text or bytes. */
    set(key: string, value: string | Uint8Array): void;
    /** Stores a value as JSON. */
    setJson(key: string, value: unknown): void;
    /** Removes a key; absent keys are fine. */
    delete(key: string): void;
    /** Whether the key is present. */
    exists(key: string): boolean;
    /** Every key in the store. */
    keys(): string[];
    /** Adds `delta` (default 1) atomically and returns the new value. */
    increment(key: string, delta?: number): number;
  }

  /** The `default` store's methods, and `open(name)` for another granted one. */
  export const kv: Omit<Store, 'name'> & { open(name?: string): Store };

  /** A value bound to a `$n` placeholder. */
  export type SqlParam = null | undefined | number | bigint | boolean | string | Date | Uint8Array;

  /** A value read from a column: integers past 2^53 come back as bigint. */
  export type SqlValue = null | number | bigint | string | Uint8Array;

  /** A row, keyed by column name. */
  export type Row = Record<string, SqlValue>;

  /** Why a statement failed; each kind has its own class. */
  export class SqlError extends Error {
    readonly kind:
      | 'NoSuchDatabase'
      | 'AccessDenied'
      | 'ReadOnly'
      | 'ConstraintViolation'
      | 'Unavailable'
      | 'Other';
  }
  export class NoSuchDatabase extends SqlError {}
  export class AccessDenied extends SqlError {}
  export class ReadOnly extends SqlError {}
  /** A unique, foreign-key, not-null or check constraint refused the statement. */
  export class ConstraintViolation extends SqlError {}
  /** The database cannot be reached now; trying later may work. */
  export class Unavailable extends SqlError {}

  /** One SQL database; statements use `$1, $2, ...` placeholders on every backend. */
  export class Database {
    readonly name: string;
    /** Runs a statement; the result is the number of rows changed. */
    execute(statement: string, params?: SqlParam[]): number;
    /** Runs a query; each row is an object keyed by column name. */
    query<T extends object = Row>(statement: string, params?: SqlParam[]): T[];
    /** The first row, or `null`. */
    queryOne<T extends object = Row>(statement: string, params?: SqlParam[]): T | null;
    /** Runs `work(db)` in a transaction: committed when it returns, rolled back when it throws. */
    transaction<T>(work: (db: Database) => T | Promise<T>): Promise<T>;
  }

  /** The `default` database's methods, and `open(name)` for another granted one. */
  export const sql: Omit<Database, 'name'> & { open(name?: string): Database };
}
