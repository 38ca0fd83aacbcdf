// /api/kv/[key]: raw bytes in the `default` key-value store.
//
// `PUT` stores the request body verbatim, `GET` answers it verbatim (`application/octet-stream`),
// `DELETE` removes it; an absent key is a 404. The body parser is off, so bytes stay bytes.
import { kv } from 'routelet';

export const config = { api: { bodyParser: false } };

export default async function handler(req, res) {
  const { key } = req.query;
  switch (req.method) {
    case 'PUT': {
      const chunks = [];
      for await (const chunk of req) chunks.push(chunk);
      kv.set(key, Buffer.concat(chunks));
      return res.status(204).end();
    }
    case 'GET': {
      const value = kv.getBytes(key);
      if (value === null) return res.status(404).send(`no value at ${key}`);
      return res.send(Buffer.from(value));
    }
    case 'DELETE':
      kv.delete(key);
      return res.status(204).end();
    default:
      res.setHeader('Allow', 'GET, PUT, DELETE');
      return res.status(405).end();
  }
}
