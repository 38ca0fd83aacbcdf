// Any method on /api/echo → the request as the handler sees it:
// `{"method","contentType","bodyType","body","query","cookies"}`.
//
// The body is parsed by content type before the handler runs, as in Next.js: `application/json`
// and `application/ld+json` as JSON, forms as an object, anything else as a string. Invalid JSON
// never gets here (`400 Invalid JSON`), nor does a body over the default 1mb limit
// (`413 Body exceeded 1mb limit`).
export default function handler(req, res) {
  const contentType = req.headers['content-type'] ?? null;
  const type = contentType?.split(';')[0].trim();
  const bodyType =
    req.body === '' ? 'empty'
    : type === 'application/json' || type === 'application/ld+json' ? 'json'
    : type === 'application/x-www-form-urlencoded' ? 'form'
    : 'text';
  res.json({
    method: req.method,
    contentType,
    bodyType,
    body: bodyType === 'empty' ? null : req.body,
    query: req.query,
    cookies: req.cookies,
  });
}
