// SIGTERM/SIGINT under load, against the real `ganforge serve` in a child process: the process must exit 0 once what
// it accepted is answered, and no accepted request may be dropped. A client may only see connection-level refusals
// (nothing was accepted, so retrying elsewhere is safe), never a truncated body or a 5xx.

import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { statSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { after, before, test } from 'node:test';
import { makeModelsDir } from './serve-fixtures.ts';

const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CLIENTS = 16;
/** Generous: draining is a few batches of ~10–100 ms, but the machine is shared. */
const EXIT_BOUND_MS = 12_000;
const CONNECTION_LEVEL = /^(ECONNREFUSED|ECONNRESET|EPIPE|socket hang up)$/;

let models: ReturnType<typeof makeModelsDir>;
before(() => {
  // slow: every client has a request queued or running when the signal lands. large: a ~16 MB file, more than loopback
  // socket buffers hold, so a client that stops reading keeps its download (and so the drain) open for as long as it likes.
  models = makeModelsDir({ slow: { slowLayers: 8, slowWidth: 768, weightSeed: 3 }, large: { slowLayers: 1, slowWidth: 2048, weightSeed: 4 } });
});
after(() => models.cleanup());

interface LogLine {
  event: string;
  id?: string;
  path?: string;
  status?: number;
  aborted?: boolean;
}

interface ServeChild {
  child: ChildProcess;
  url: string;
  log: LogLine[];
  /** performance.now() when the child's log line of this event was read. */
  seenAt: Map<string, number>;
  stderr: string[];
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>;
}

async function startServeChild(): Promise<ServeChild> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'cli/main.ts', 'serve', '--models', models.dir, '--port', '0', '--api-only', '--device', 'cpu', '--workers', '1'], {
    cwd: REPO_ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const log: LogLine[] = [];
  const seenAt = new Map<string, number>();
  const stderr: string[] = [];
  const exited = once(child, 'exit').then(([code, signal]) => ({ code: code as number | null, signal: signal as NodeJS.Signals | null, at: performance.now() }));
  const record = (entry: LogLine) => {
    log.push(entry);
    if (!seenAt.has(entry.event)) seenAt.set(entry.event, performance.now());
  };
  // warn and error entries go to stderr, next to anything else a crash would print there.
  createInterface({ input: child.stderr }).on('line', (line) => {
    stderr.push(line);
    const entry = parseLogLine(line);
    if (entry !== undefined) record(entry);
  });
  const url = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout }).on('line', (line) => {
      const entry = JSON.parse(line) as LogLine & { url?: string };
      record(entry);
      if (entry.event === 'listening' && entry.url !== undefined) resolve(entry.url);
    });
    void exited.then(({ code }) => reject(new Error(`serve exited with ${code} before listening:\n${stderr.join('\n')}`)));
  });
  return { child, url, log, seenAt, stderr, exited };
}

function parseLogLine(line: string): LogLine | undefined {
  try {
    const entry = JSON.parse(line) as Partial<LogLine>;
    return typeof entry.event === 'string' ? (entry as LogLine) : undefined;
  } catch {
    return undefined;
  }
}

interface Outcome {
  id: string;
  sentAt: number;
  endedAt: number;
  /** Undefined when no response head arrived. */
  status?: number;
  connection?: string;
  contentLength?: number;
  received: number;
  complete: boolean;
  error?: string;
}

/** GET url with an X-Request-Id; with `hold`, stops reading the body after its first bytes until hold.until settles. */
function get(agent: Agent, url: string, id: string, hold?: { until: Promise<void>; paused: () => void }): Promise<Outcome> {
  const outcome: Outcome = { id, sentAt: performance.now(), endedAt: NaN, received: 0, complete: false };
  return new Promise((resolve) => {
    const finish = (error?: Error & { code?: string }) => {
      if (!Number.isNaN(outcome.endedAt)) return;
      outcome.endedAt = performance.now();
      if (error !== undefined) outcome.error = error.code ?? error.message;
      resolve(outcome);
    };
    const req = request(url, { agent, headers: { 'X-Request-Id': id } }, (res) => {
      outcome.status = res.statusCode;
      outcome.connection = res.headers.connection;
      outcome.contentLength = Number(res.headers['content-length']);
      res.on('data', (chunk: Buffer) => {
        outcome.received += chunk.length;
        if (hold !== undefined) {
          res.pause();
          hold.paused();
          void hold.until.then(() => res.resume());
          hold = undefined;
        }
      });
      res.on('error', finish);
      res.on('close', () => {
        outcome.complete = res.complete;
        finish();
      });
    });
    req.on('error', finish);
    req.end();
  });
}

async function waitUntil(condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!(await condition())) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Drives CLIENTS keep-alive clients, sends `signals` once load is steady, and checks every request's fate. */
async function signalUnderLoad(signals: NodeJS.Signals[]): Promise<void> {
  const serve = await startServeChild();
  try {
    // Connection: close (a non-keep-alive agent): an idle kept-alive connection would hold the drain open until its
    // keep-alive timeout, which is bounded but not what this test measures.
    let probe = 0;
    await waitUntil(async () => (await get(new Agent(), `${serve.url}/readyz`, `readyz-${probe++}`)).status === 200, '/readyz 200');
    const agent = new Agent({ keepAlive: true, maxSockets: CLIENTS });
    const outcomes: Outcome[] = [];
    let signalledAt = Infinity;
    let next = 0;
    const clients = Array.from({ length: CLIENTS }, async (_, client) => {
      // Each client keeps sending until the server refuses it, as a load balancer's connection pool would.
      for (;;) {
        const outcome = await get(agent, `${serve.url}/generate?model=slow&n=4&format=npy`, `c${client}-r${next++}`);
        outcomes.push(outcome);
        if (outcome.status === undefined || performance.now() > signalledAt + EXIT_BOUND_MS) return;
      }
    });
    await waitUntil(() => outcomes.filter((o) => o.status === 200).length >= CLIENTS, 'steady load');
    // A download in flight across the whole shutdown: it must still arrive in full, and it keeps close() draining
    // until every load client has been turned away and any repeated signal has landed.
    let release = () => {};
    let paused = false;
    const download = get(new Agent(), `${serve.url}/models/large.onnx`, 'held-download', {
      until: new Promise<void>((resolve) => { release = resolve; }),
      paused: () => { paused = true; },
    });
    await waitUntil(() => paused, 'the download to start');
    signalledAt = performance.now();
    serve.child.kill(signals[0]);
    await waitUntil(() => serve.seenAt.has('shutdown'), "the child's 'shutdown' log line", EXIT_BOUND_MS);
    for (const signal of signals.slice(1)) serve.child.kill(signal);
    await Promise.race([
      waitUntil(() => serve.log.filter((l) => l.event === 'shutdown-signal-ignored').length === signals.length - 1, 'the repeated signal to be logged', EXIT_BOUND_MS),
      serve.exited.then(({ code, signal }) => { throw new Error(`serve exited (code ${code}, signal ${signal}) while its download was still held`); }),
    ]);
    await Promise.all(clients);
    release();
    let overdue: NodeJS.Timeout | undefined;
    const exit = await Promise.race([
      serve.exited,
      new Promise<never>((_, reject) => { overdue = setTimeout(() => reject(new Error(`serve did not exit within ${EXIT_BOUND_MS} ms of ${signals.join(' + ')}`)), EXIT_BOUND_MS); }),
    ]).finally(() => clearTimeout(overdue));
    agent.destroy();
    const held = await download;

    const context = `stderr:\n${serve.stderr.join('\n')}`;
    assert.deepEqual({ code: exit.code, signal: exit.signal }, { code: 0, signal: null }, context);
    const events = serve.log.map((l) => l.event);
    assert.ok(events.includes('closed'), `no 'closed' log line; ${context}`);
    assert.equal(events.filter((e) => e === 'shutdown').length, 1);

    assert.ok(held.status === 200 && held.complete && held.received === held.contentLength, `held download: ${JSON.stringify(held)}`);
    assert.equal(held.received, statSync(join(models.dir, 'large.onnx')).size);
    const byId = new Map([...outcomes, held].map((o) => [o.id, o]));
    const accepted = serve.log.filter((l) => l.event === 'request' && !l.id!.startsWith('readyz-'));
    for (const line of accepted) {
      assert.deepEqual({ id: line.id, status: line.status, aborted: line.aborted }, { id: line.id, status: 200, aborted: false }, 'the server logged a request it did not answer in full');
      const outcome = byId.get(line.id!);
      assert.ok(outcome !== undefined, `the server logged ${line.id}, which no client sent`);
      assert.equal(outcome.status, 200, `${line.id} was accepted but the client saw ${outcome.status ?? outcome.error}`);
      assert.ok(outcome.complete && outcome.received === outcome.contentLength, `${line.id}: ${outcome.received} of ${outcome.contentLength} bytes`);
    }
    const acceptedIds = new Set(accepted.map((l) => l.id));
    for (const outcome of outcomes) {
      if (outcome.status === undefined) {
        assert.match(outcome.error ?? '', CONNECTION_LEVEL, `${outcome.id} failed with ${outcome.error}`);
        assert.equal(outcome.received, 0);
        assert.ok(!acceptedIds.has(outcome.id), `${outcome.id} was accepted, then its connection dropped`);
      } else {
        assert.equal(outcome.status, 200, `${outcome.id}`);
        assert.ok(acceptedIds.has(outcome.id), `${outcome.id} was answered but not logged`);
      }
    }
    const inFlightAtSignal = outcomes.filter((o) => o.sentAt < signalledAt && o.endedAt > signalledAt && o.status === 200);
    assert.ok(inFlightAtSignal.length >= CLIENTS / 2, `only ${inFlightAtSignal.length} requests were in flight at ${signals[0]}`);
    // Sent after the child logged that it is shutting down, so they reached a closing server: each answer must tell
    // the client not to reuse the connection.
    const shutdownSeenAt = serve.seenAt.get('shutdown') ?? Infinity;
    for (const outcome of outcomes.filter((o) => o.sentAt > shutdownSeenAt && o.status !== undefined)) {
      assert.equal(outcome.connection, 'close', `${outcome.id} was answered during shutdown with Connection: ${outcome.connection}`);
    }
    // A client whose request was in flight sends its next one on the same kept-alive connection: that one is still
    // answered, and says Connection: close.
    const closeAnswers = outcomes.filter((o) => o.status === 200 && o.connection === 'close').length;
    assert.ok(closeAnswers >= 1, 'no request was answered with Connection: close during shutdown');
    const refused: Record<string, number> = {};
    for (const o of outcomes) if (o.error !== undefined) refused[o.error] = (refused[o.error] ?? 0) + 1;
    console.log(JSON.stringify({ signals, requests: outcomes.length, accepted: accepted.length, inFlightAtSignal: inFlightAtSignal.length, closeAnswers, refused, exitMs: Math.round(exit.at - signalledAt) }));
  } finally {
    if (serve.child.exitCode === null && serve.child.signalCode === null) serve.child.kill('SIGKILL');
  }
}

test('SIGTERM under load (sent twice): every accepted request is answered in full, then the process exits 0', async () => {
  await signalUnderLoad(['SIGTERM', 'SIGTERM']);
});

test('SIGINT under load: every accepted request is answered in full, then the process exits 0', async () => {
  await signalUnderLoad(['SIGINT']);
});
