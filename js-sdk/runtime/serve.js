// The component's entry: every request goes to the route the host matched, by its pattern.
// The route table is the app's; the host decides which route a request is for, and grants,
// limits and which instance serves it (one per route, reused) stay the host's business.

import { matchedPattern, params as routeParams } from 'routelet:route/context@0.1.0';
import { incomingHandler, plainAnswer } from './incoming.js';
import { handle } from './next.js';
import { releaseHandles } from './routelet.js';
import { state } from './state.js';
import { warm } from './warm.js';

/** Checks every route's exports now (at build time), then serves them. */
export function serve(table) {
  const routes = new Map();
  for (const [pattern, file, module] of table) {
    if (typeof module.default !== 'function') {
      throw new Error(
        `${file}: export a default function handler(req, res), as Next.js API routes do ` +
          `(found ${module.default === undefined ? 'no default export' : `a default ${typeof module.default}`})`,
      );
    }
    routes.set(pattern, { pattern, file, module });
  }
  warm();
  return incomingHandler((request) => {
    state.serving = true;
    return dispatch(routes, request);
  }, releaseHandles);
}

async function dispatch(routes, request) {
  const pattern = matchedPattern();
  const route = routes.get(pattern);
  if (!route) {
    console.error(`this component has no JavaScript route ${pattern}; rebuild the app`);
    return plainAnswer(500, 'Internal Server Error');
  }
  const params = {};
  for (const { name, value } of routeParams()) params[name] = value.val;
  return handle(route, request, params);
}
