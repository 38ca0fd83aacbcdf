// /api/notes/[id]: a note in the `default` SQL database.
//
// `PUT ?title=...` with any body saves the note (title as text, body as bytes); `GET` answers
// `{"id", "title", "body": [bytes]}`, or 404. Values are bound as parameters, never spliced into
// the SQL, so a title such as `'; DROP TABLE notes; --` is just a title.
import type { NextApiRequest, NextApiResponse } from 'next';
import { sql } from 'routelet';

export const config = { api: { bodyParser: false } };

type Note = { id: string; title: string; body: Uint8Array };

export default async function handler(req: NextApiRequest, res: NextApiResponse) {
  const id = String(req.query.id);
  if (req.method === 'PUT') {
    const title = String(req.query.title ?? '');
    const chunks: Uint8Array[] = [];
    for await (const chunk of req) chunks.push(chunk);
    sql.execute(
      'INSERT INTO notes (id, title, body) VALUES ($1, $2, $3) ' +
        'ON CONFLICT (id) DO UPDATE SET title = excluded.title, body = excluded.body',
      [id, title, Buffer.concat(chunks)],
    );
    return res.status(204).end();
  }
  if (req.method === 'GET') {
    const note = sql.queryOne('SELECT id, title, body FROM notes WHERE id = $1', [id]) as Note | null;
    if (!note) return res.status(404).send(`no note ${id}`);
    return res.json({ ...note, body: Array.from(note.body) });
  }
  res.setHeader('Allow', 'GET, PUT');
  res.status(405).end();
}
