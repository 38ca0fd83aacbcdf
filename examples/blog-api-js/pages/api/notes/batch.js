// POST /api/notes/batch: saves several notes (`[{"id", "title"}]`) in one transaction, so either
// all of them are saved (201) or, when one id is taken, none is (409).
import { sql, ConstraintViolation } from 'routelet';

export default async function handler(req, res) {
  if (req.method !== 'POST') {
    res.setHeader('Allow', 'POST');
    return res.status(405).end();
  }
  const notes = req.body;
  if (!Array.isArray(notes)) return res.status(400).send('Invalid body: expected a list of notes');
  try {
    const saved = await sql.transaction((db) => {
      for (const note of notes) {
        db.execute('INSERT INTO notes (id, title, body) VALUES ($1, $2, $3)', [
          String(note.id),
          String(note.title),
          new Uint8Array(),
        ]);
      }
      return notes.length;
    });
    res.status(201).json({ saved });
  } catch (error) {
    if (!(error instanceof ConstraintViolation)) throw error;
    res.status(409).json({ error: 'a note with one of these ids exists; none was saved' });
  }
}
