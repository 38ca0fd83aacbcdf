// GET /api/subscribers: how many addresses have subscribed, from the `default` SQL database.
import { sql, Unavailable } from 'routelet';

export default function handler(req, res) {
  if (req.method !== 'GET') {
    res.setHeader('Allow', 'GET');
    return res.status(405).end();
  }
  try {
    const row = sql.queryOne('SELECT count(*) AS count FROM subscribers');
    res.json({ count: row?.count ?? 0 });
  } catch (error) {
    if (!(error instanceof Unavailable)) throw error;
    console.error(`subscribers: ${error.message}`);
    res.status(503).json({ error: 'try again later' });
  }
}
