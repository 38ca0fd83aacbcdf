// GET /api/stream?n=100000 → `n` lines of text (default 1000, at most 1,000,000), streamed.
//
// The lines are written while they are sent, in 4 KiB chunks; when `res.write` answers false the
// handler waits for `drain`, as with Node's streams, so the response never sits whole in memory.
const MAX_LINES = 1_000_000;

export default async function handler(req, res) {
  const n = req.query.n === undefined ? 1000 : Number(req.query.n);
  if (!Number.isInteger(n) || n < 0) return res.status(400).send('n must be a whole number');
  if (n > MAX_LINES) return res.status(400).send(`n may be at most ${MAX_LINES}`);
  res.setHeader('Content-Type', 'text/plain; charset=utf-8');
  let chunk = '';
  for (let i = 1; i <= n; i++) {
    chunk += `line ${i} of ${n}\n`;
    if (chunk.length >= 4096 || i === n) {
      const more = res.write(chunk);
      chunk = '';
      if (!more) await new Promise((resolve) => res.once('drain', resolve));
    }
  }
  res.end();
}
