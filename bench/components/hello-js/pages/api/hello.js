// The JS hello through the whole Next.js shim: `req` and `res` built, `res.send` with its ETag.
export default function handler(req, res) {
  res.setHeader('Content-Type', 'text/plain');
  res.send('Hello, world!\n');
}
