// GET /api → what this API offers, so a client (or a person with curl) can find its way.
import type { NextApiRequest, NextApiResponse } from 'next';

const endpoints = [
  ['GET', '/api', 'this list'],
  ['GET', '/api/users/[id]', 'a user by id, with the merged query'],
  ['GET', '/api/users/me', 'the current user: a static route beats [id]'],
  ['GET', '/api/posts/[...slug]', 'a post by one or more path segments'],
  ['GET', '/api/docs/[[...path]]', 'docs at any depth, including /api/docs itself'],
  ['POST', '/api/subscribe', 'subscribe an email, from the form on / or as JSON'],
  ['GET', '/api/subscribers', 'how many have subscribed (SQL)'],
  ['POST', '/api/counter', 'adds one to a counter atomically (key-value); GET reads it'],
  ['PUT', '/api/kv/[key]', 'stores the body verbatim in the key-value store; GET and DELETE too'],
  ['PUT', '/api/notes/[id]?title=...', 'saves a note in SQL; GET reads it'],
  ['POST', '/api/notes/batch', 'saves several notes in one transaction: all or none'],
  ['GET', '/api/notes?title=...', 'the notes with this title'],
  ['*', '/api/echo', 'echoes the method, content type and parsed body'],
  ['POST', '/api/upload', 'streams the body without buffering it and counts it'],
  ['GET', '/api/stream?n=1000', 'a large response, streamed as n lines'],
  ['GET', '/api/panic', 'throws on purpose: the host answers 500 and keeps serving'],
] as const;

export default function handler(_req: NextApiRequest, res: NextApiResponse) {
  res.json({
    name: 'blog-api-js',
    endpoints: endpoints.map(([method, path, description]) => ({ method, path, description })),
  });
}
