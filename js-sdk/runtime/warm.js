// Runs the runtime's own request path once while the build snapshots the component.
//
// SpiderMonkey compiles a function's bytecode on its first call, and every instance starts from
// the snapshot: without this, each instance's first request compiles next.js's request and
// response code again (measured with an instance per request: a JS hello at 720 req/s without,
// 840 with). Here,
// synthetic requests go through `handle` with a handler of our own; the user's handlers never
// run, and nothing asks the host for anything.

import { handle } from './next.js';

const warmRoute = (config, handler) => ({
  pattern: '/__routelet_warm',
  file: 'routelet runtime',
  module: { config, default: handler },
});

/** Sends each synthetic request through the runtime and reads its answer; nothing is kept. */
export function warm() {
  const requests = [
    [
      new Request('http://localhost/api/warm/a?x=1&x=2&y=%20z', {
        headers: { cookie: 'a=1; b=%C3%A9', accept: '*/*', 'if-none-match': '"x"' },
      }),
      warmRoute(undefined, (req, res) => {
        res.setHeader('Cache-Control', 'no-store');
        res.getHeader('cache-control');
        res.status(200).json({ query: req.query, cookies: req.cookies });
      }),
    ],
    [
      new Request('http://localhost/api/warm', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{"email":"a@b.c"}',
      }),
      warmRoute(undefined, (req, res) => res.status(201).send({ ok: req.body.email })),
    ],
    [
      new Request('http://localhost/api/warm', {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: 'a=1&b=2',
      }),
      warmRoute(undefined, (req, res) => res.redirect(303, `/done?a=${req.body.a}`)),
    ],
    [
      new Request('http://localhost/api/warm', { method: 'PUT', body: 'text' }),
      warmRoute({ api: { bodyParser: false } }, async (req, res) => {
        for await (const chunk of req) res.write(chunk);
        res.end(Buffer.from('end'));
      }),
    ],
    [
      new Request('http://localhost/api/warm'),
      warmRoute(undefined, (req, res) => res.send('Hello')),
    ],
  ];
  for (const [request, route] of requests) {
    handle(route, request, { slug: ['a', 'b'] }).then(
      (answer) => answer.body instanceof ReadableStream && new Response(answer.body).arrayBuffer(),
      () => {},
    );
  }
}
