// A handler module (no execute bit): /cgi-bin/ runs it in a fresh Node process, /fcgi-bin/ keeps it resident.
/** @type {import('forkfast').Handler} */
export default {
  async fetch(request, env) {
    return new Response(`hello from ${env.SCRIPT_NAME}\n`, { headers: { 'content-type': 'text/plain' } });
  },
};
