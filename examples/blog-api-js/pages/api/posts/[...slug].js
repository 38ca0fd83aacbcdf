// GET /api/posts/2024/hello-world → {"slug":["2024","hello-world"]}
//
// A catch-all matches one or more segments; each is percent-decoded on its own, so
// `/api/posts/a%2Fb` is the single segment `a/b`. `/api/posts` alone is a 404.
export default function handler(req, res) {
  res.json({ slug: req.query.slug });
}
