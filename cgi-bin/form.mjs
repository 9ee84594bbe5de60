// The form of form.pl as a handler module: standard Request/Response, URLSearchParams, escaped output.
const escape = (s) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** @type {import('forkfast').Handler} */
export default async function (request, env) {
  const url = new URL(request.url);
  const params = request.method === 'POST' ? new URLSearchParams(await request.text()) : url.searchParams;
  const name = escape(params.get('name') ?? '');
  const self = escape(env.SCRIPT_NAME ?? '');
  let html = `<!doctype html>\n<title>form.mjs</title>\n<form method="post" action="${self}"><label>Name <input name="name" value="${name}"></label> <button>Send</button></form>\n`;
  if (name !== '') html += `<p>Hello, <b>${name}</b> (${escape(request.method)})</p>\n`;
  return new Response(html, { headers: { 'content-type': 'text/html; charset=utf-8' } });
}
