// /api/counter: a counter in the `default` key-value store.
//
// `POST` adds one atomically (`?by=N` adds N) and answers the new value; `GET` reads it. A store
// that cannot be reached is a 503 with a JSON error, chosen here, not by the host.
import { kv, KvError } from 'routelet';

const KEY = 'counter';

export default function handler(req, res) {
  let value;
  try {
    if (req.method === 'POST') {
      const by = req.query.by ?? '1';
      if (!/^\d+$/.test(by)) return res.status(400).send('by must be a whole number');
      value = kv.increment(KEY, Number(by));
    } else if (req.method === 'GET') {
      value = Number(kv.get(KEY) ?? 0);
    } else {
      res.setHeader('Allow', 'GET, POST');
      return res.status(405).end();
    }
  } catch (error) {
    if (!(error instanceof KvError)) throw error;
    console.error(`counter: ${error.message}`);
    return res.status(503).json({ error: 'counter unavailable' });
  }
  res.json({ value });
}
