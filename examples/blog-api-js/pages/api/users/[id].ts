// GET /api/users/42?tab=posts → {"id":"42","query":{"id":"42","tab":"posts"}}
//
// `req.query` is the query string with the route params laid over it, so `/api/users/42?id=x`
// still reports `id: "42"`.
import type { NextApiRequest, NextApiResponse } from 'next';

export default function handler(req: NextApiRequest, res: NextApiResponse) {
  res.json({ id: req.query.id, query: req.query });
}
