// Host resources (a body, a stream, a store, a connection) are handed back as soon as their
// request is done with them, not whenever the garbage collector finalizes them: the host keeps
// a JS route's instance for its next request only once it holds none.

/** The key componentize-js gives a resource's drop (SpiderMonkey may have no `Symbol.dispose`). */
const DISPOSE = Symbol.dispose ?? Symbol.for('dispose');

/** Hands `resource` back to the host now; nothing happens for `undefined`. */
export function dispose(resource) {
  resource?.[DISPOSE]?.();
}
