// GET /api/users/me → {"id":"me","static":true}
//
// `users/me.js` and `users/[id].ts` both match `/api/users/me`; as in Next.js, the static route
// wins, whatever order the files were written in.
export default function handler(req, res) {
  res.json({ id: 'me', static: true });
}
