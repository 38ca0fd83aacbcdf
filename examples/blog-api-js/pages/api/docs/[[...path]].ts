// GET /api/docs/guide/routing → {"path":["guide","routing"]}
// GET /api/docs               → {"path":null,"note":"no path: the docs index"}
//
// An optional catch-all also matches zero segments, and then `req.query.path` is undefined.
import type { NextApiRequest, NextApiResponse } from 'next';

export default function handler(req: NextApiRequest, res: NextApiResponse) {
  const { path } = req.query;
  res.json(path === undefined ? { path: null, note: 'no path: the docs index' } : { path });
}
