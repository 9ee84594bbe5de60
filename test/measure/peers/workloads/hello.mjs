// The hello handler module: resident under /fcgi-bin/ and `forkfast pool`, one Node process per request under /cgi-bin/.
const body = 'hello\n';
export default {
  async fetch() {
    return new Response(body, { headers: { 'content-type': 'text/plain' } });
  },
};
