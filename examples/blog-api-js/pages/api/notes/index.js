// GET /api/notes?title=...: the ids of the notes with exactly this title, and how many notes
// there are in all (a search whose text is bound as a parameter).
import { sql } from 'routelet';

export default function handler(req, res) {
  const title = String(req.query.title ?? '');
  const ids = sql.query('SELECT id FROM notes WHERE title = $1 ORDER BY id', [title]).map((row) => row.id);
  const total = sql.queryOne('SELECT count(*) AS total FROM notes')?.total ?? 0;
  res.json({ ids, total });
}
