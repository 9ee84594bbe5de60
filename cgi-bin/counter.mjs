// Counts its own invocations: always 1 under /cgi-bin/ (a fresh process each time), growing under /fcgi-bin/ (resident).
let count = 0;

/** @type {import('forkfast').Handler} */
export default {
  fetch() {
    count += 1;
    return new Response(`count=${count} pid=${process.pid}\n`, { headers: { 'content-type': 'text/plain', 'cache-control': 'no-store' } });
  },
};
