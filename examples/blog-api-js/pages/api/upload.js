// POST /api/upload → {"bytes":..., "lines":..., "fnv1a":"..."} for a body of any size.
//
// `bodyParser: false` leaves the body unread and unlimited: the handler reads it as a stream of
// chunks, in constant memory.
export const config = { api: { bodyParser: false } };

export default async function handler(req, res) {
  if (req.method !== 'POST') {
    res.setHeader('Allow', 'POST');
    return res.status(405).end();
  }
  let [bytes, lines, hash] = [0, 0, 0x811c9dc5];
  for await (const chunk of req) {
    bytes += chunk.length;
    for (const byte of chunk) {
      if (byte === 10) lines++;
      hash = Math.imul(hash ^ byte, 0x01000193) >>> 0;
    }
  }
  res.json({ bytes, lines, fnv1a: hash.toString(16).padStart(8, '0') });
}
