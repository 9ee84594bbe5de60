// Sends the hostile HTTP table to a running front and checks each answer against the table.
import { rawRequest } from '../helpers/raw-http.js';
import type { HttpCase } from './http-cases.js';
import { SECRET } from './world.js';

export interface HttpOutcome {
  readonly case: HttpCase;
  readonly status: number;
  /** Status lines in the reply: more than one means a smuggled request was answered. */
  readonly responses: number;
  readonly leaked: boolean;
  /** x-request-id of the answer; '' when the front answered before a request existed. */
  readonly requestId: string;
  readonly ok: boolean;
}

/** Runs every case on its own connection, `concurrency` at a time; never throws for a case. */
export async function runHttpCases(port: number, cases: readonly HttpCase[], concurrency = 8): Promise<HttpOutcome[]> {
  const out: HttpOutcome[] = new Array<HttpOutcome>(cases.length);
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < cases.length) {
      const i = next++;
      const c = cases[i] as HttpCase;
      let status = 0;
      let responses = 0;
      let leaked = false;
      let requestId = '';
      try {
        const r = await rawRequest(port, Buffer.from(c.request, 'latin1'), 10_000);
        status = r.status;
        responses = (r.raw.toString('latin1').match(/(^|\r\n)HTTP\/1\.[01] \d{3} /g) ?? []).length;
        leaked = r.raw.includes(SECRET);
        requestId = r.headers['x-request-id'] ?? '';
      } catch {
        status = -1;
      }
      out[i] = { case: c, status, responses, leaked, requestId, ok: c.expect.includes(status) && responses === 1 && !leaked };
    }
  };
  await Promise.all(Array.from({ length: concurrency }, lane));
  return out;
}

/** What the front answers itself, before any route: a parse error, the request line, CONNECT. */
const FRONT_STATUSES: readonly number[] = [400, 408, 431, 501, 505];

/**
 * Matches the front's 'malformed request' lines to the answers: a refusal made before a request
 * existed (no x-request-id) has one line without reqId; one made on a parsed head has one line
 * with its reqId. Returns what does not match, empty when every refusal was logged once.
 */
export function unloggedRefusals(outcomes: readonly HttpOutcome[], lines: ReadonlyArray<Record<string, unknown>>): string[] {
  const malformed = lines.filter((l) => l['msg'] === 'malformed request');
  const byId = new Map<string, number>();
  let anonymous = 0;
  for (const l of malformed) {
    const id = typeof l['reqId'] === 'string' ? l['reqId'] : '';
    if (id === '') anonymous++;
    else byId.set(id, (byId.get(id) ?? 0) + 1);
  }
  const problems: string[] = [];
  let bare = 0;
  for (const o of outcomes) {
    if (!FRONT_STATUSES.includes(o.status)) continue;
    if (o.requestId === '') bare++;
    else if (byId.has(o.requestId) && byId.get(o.requestId) !== 1) problems.push(`${o.case.name}: ${byId.get(o.requestId)} lines`);
  }
  // A body the route never read can still fail to parse after its answer went (static's 405 to a
  // POST): the front logs that too, a line no answer shows. At most one per such case.
  const late = outcomes.filter((o) => o.case.front && !FRONT_STATUSES.includes(o.status)).length;
  if (anonymous < bare || anonymous > bare + late) problems.push(`${bare} refusals before a request (and ${late} possible late ones), ${anonymous} lines without reqId`);
  return problems;
}

/** Refusals the front made (for the report). */
export function frontRefusals(outcomes: readonly HttpOutcome[]): number {
  return outcomes.filter((o) => FRONT_STATUSES.includes(o.status) && (o.requestId === '' || o.case.front)).length;
}
