// Concurrent closed-loop clients and an event-driven wait for the fault tests (test/serve/faults-*.test.ts): each
// client sends its next request as soon as the last one is answered, every answer is kept whole, and nothing decides
// an outcome by elapsed time (deadlines are safety nets that turn a hang into a failure with a reason).

import { createHash } from 'node:crypto';

export interface ClientAnswer {
  client: number;
  seq: number;
  url: string;
  /** 0 when no response arrived (then `error` says why). */
  status: number;
  headers: Headers;
  bytes: Uint8Array;
  /** performance.now() when sent and when the whole body had arrived (or the request failed). */
  sentAt: number;
  endedAt: number;
  error?: string;
}

export interface RunningClients {
  /** Every answer so far, in the order they arrived. */
  readonly answers: ClientAnswer[];
  /** Lets every client finish its request in flight and stop; resolves with all answers. */
  stop(): Promise<ClientAnswer[]>;
}

/** Starts `count` clients; client c's request number s goes to url(c, s). */
export function startClients(count: number, url: (client: number, seq: number) => string): RunningClients {
  const answers: ClientAnswer[] = [];
  let stopped = false;
  const loops = Array.from({ length: count }, async (_, client) => {
    for (let seq = 0; !stopped; seq++) answers.push(await fetchWhole(client, seq, url(client, seq)));
  });
  return {
    answers,
    async stop() {
      stopped = true;
      await Promise.all(loops);
      return answers;
    },
  };
}

async function fetchWhole(client: number, seq: number, url: string): Promise<ClientAnswer> {
  const sentAt = performance.now();
  try {
    const response = await fetch(url);
    const bytes = new Uint8Array(await response.arrayBuffer());
    return { client, seq, url, status: response.status, headers: response.headers, bytes, sentAt, endedAt: performance.now() };
  } catch (error) {
    const cause = (error as { cause?: { code?: string } }).cause;
    return { client, seq, url, status: 0, headers: new Headers(), bytes: new Uint8Array(), sentAt, endedAt: performance.now(), error: cause?.code ?? String(error) };
  }
}

/**
 * Resolves with probe()'s first value other than undefined, checking every 10 ms. The deadline is only a safety net:
 * generous, so that a slow machine never fails here, yet a real hang fails with what was awaited.
 */
export async function waitFor<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, timeoutMs = 30_000): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (performance.now() > deadline) throw new Error(`gave up after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

export const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

/** Counts of each status (and network error) among answers, for assertion messages. */
export function statusCounts(answers: readonly ClientAnswer[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const a of answers) {
    const key = a.status === 0 ? (a.error ?? 'error') : String(a.status);
    counts[key] = (counts[key] ?? 0) + 1;
  }
  return counts;
}
