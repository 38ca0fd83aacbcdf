// GET /api/panic → 500, on purpose.
//
// A handler that throws is a 500 with a log line naming the route and the error; the host keeps
// serving every other request, so there is nothing to catch here.
export default function handler(req) {
  throw new Error(`${req.method} ${req.url} threw on purpose`);
}
