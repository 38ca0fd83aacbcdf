// The JS hello, as a Cloudflare Worker: the same bytes the Rust and JS hello routes answer.
export default {
  fetch() {
    return new Response('Hello, world!\n', { headers: { 'content-type': 'text/plain' } });
  },
};
