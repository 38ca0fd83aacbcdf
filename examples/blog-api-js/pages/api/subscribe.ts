// POST /api/subscribe: subscribe an email address.
//
// Accepts the HTML form on `/` (`application/x-www-form-urlencoded`) and JSON
// (`{"email": "..."}`). A form post is answered with a 303 to `/subscribed.html`, so reloading
// that page does not post again; JSON gets `201 {"ok":true,"email":...}`. An address that is not
// valid is `422 {"ok":false,"error":...}` either way. The address is saved in the `default` SQL
// database (table `subscribers`, from `migrations/`): one already there is
// `409 {"ok":false,"error":"already subscribed"}`, and a database that cannot be reached is a 503.
// Other methods get a 405 with `Allow: POST`.
import type { NextApiRequest, NextApiResponse } from 'next';
import { sql, ConstraintViolation, Unavailable } from 'routelet';
import { emailProblem } from '../../lib/email';

export default function handler(req: NextApiRequest, res: NextApiResponse) {
  if (req.method !== 'POST') {
    res.setHeader('Allow', 'POST');
    return res.status(405).json({ ok: false, error: `method ${req.method} not allowed` });
  }
  if (typeof req.body !== 'object' || req.body === null || Array.isArray(req.body)) {
    return res.status(400).send('Invalid body: expected an object with an email');
  }
  const fromForm = req.headers['content-type']?.startsWith('application/x-www-form-urlencoded');
  const email = String(req.body.email ?? '').trim();
  const problem = emailProblem(email);
  if (problem) return res.status(422).json({ ok: false, error: problem });

  try {
    sql.execute('INSERT INTO subscribers (email, source) VALUES ($1, $2)', [
      email,
      fromForm ? 'form' : 'json',
    ]);
  } catch (error) {
    if (error instanceof ConstraintViolation) {
      return res.status(409).json({ ok: false, error: 'already subscribed' });
    }
    if (error instanceof Unavailable) {
      console.error(`subscribe: ${error.message}`);
      res.setHeader('Retry-After', '5');
      return res.status(503).json({ ok: false, error: 'try again later' });
    }
    throw error;
  }

  const year = 60 * 60 * 24 * 365;
  res.setHeader(
    'Set-Cookie',
    `subscriber=${encodeURIComponent(email)}; Path=/; Max-Age=${year}; HttpOnly; SameSite=Lax`,
  );
  if (fromForm) return res.redirect(303, '/subscribed.html');
  res.status(201).json({ ok: true, email });
}
