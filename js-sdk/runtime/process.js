// `process`, as far as route code and npm packages use it: `process.env` holds the route's
// configured values only (`[routes."/api/x".env]` in routelet.toml), read from the host when a
// request is served, never at build time.

import { getEnvironment } from 'wasi:cli/environment@0.2.10';
import { state } from './state.js';

let values;

function current() {
  if (!state.serving) return {};
  values ??= Object.fromEntries(getEnvironment());
  return values;
}

const env = new Proxy(
  {},
  {
    get: (_, name) => (typeof name === 'string' ? current()[name] : undefined),
    set: (_, name, value) => {
      current()[name] = String(value);
      return true;
    },
    deleteProperty: (_, name) => delete current()[name],
    has: (_, name) => name in current(),
    ownKeys: () => Reflect.ownKeys(current()),
    getOwnPropertyDescriptor: (_, name) => {
      const all = current();
      return name in all
        ? { value: all[name], writable: true, enumerable: true, configurable: true }
        : undefined;
    },
  },
);

const process = {
  env,
  argv: [],
  platform: 'wasi',
  version: 'v20.0.0',
  versions: {},
  browser: false,
  cwd: () => '/',
  nextTick: (callback, ...args) => queueMicrotask(() => callback(...args)),
  hrtime: Object.assign(
    (previous) => {
      const now = BigInt(Math.round(performance.now() * 1e6));
      const [s, ns] = [now / 1_000_000_000n, now % 1_000_000_000n];
      const pair = [Number(s), Number(ns)];
      if (!previous) return pair;
      const diff = (pair[0] - previous[0]) * 1e9 + (pair[1] - previous[1]);
      return [Math.floor(diff / 1e9), diff % 1e9];
    },
    { bigint: () => BigInt(Math.round(performance.now() * 1e6)) },
  ),
  emitWarning: (warning) => console.warn(String(warning)),
  on: () => process,
  once: () => process,
  off: () => process,
};

export default process;
export { env };
