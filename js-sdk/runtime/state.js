// What the runtime knows of the moment: the build snapshots the routes' top-level code with no
// request and no host, so nothing may ask the host for anything until a request is being served.

/** Set when the first request arrives in this instance. */
export const state = { serving: false };
