// SIGTERM under load, against the real `ganforge serve` in a child process, with a client that never reads the rest of
// its 16 MB model download: the server must answer every other request it accepted, refuse new connections cleanly,
// and still exit (code 0) by itself once its shutdown deadline (--shutdown-timeout-ms) cuts that one connection. The
// test asserts on the exit and on what was logged and received, never on how long anything took.
// (test/serve/shutdown.test.ts covers the drain when every client keeps reading, and a repeated signal.)
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { Agent, request } from 'node:http';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { after, before, test } from 'node:test';
import { waitFor } from './load-clients.ts';
import { makeModelsDir } from './serve-fixtures.ts';

const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CLIENTS = 16;

let models: ReturnType<typeof makeModelsDir>;
before(() => {
  models = makeModelsDir({ slow: { slowLayers: 8, slowWidth: 768, weightSeed: 3 }, large: { slowLayers: 1, slowWidth: 2048, weightSeed: 4 } });
});
after(() => models.cleanup());

interface Outcome {
  id: string;
  status?: number;
  contentLength?: number;
  received: number;
  complete: boolean;
  error?: string;
}

/**
 * GET with an X-Request-Id; with `hold`, reads the first chunk of the body and then nothing more until `hold`'s
 * argument is called (a paused socket does not even notice that the server closed it).
 */
function get(agent: Agent, url: string, id: string, hold?: (resume: () => void) => void): Promise<Outcome> {
  const outcome: Outcome = { id, received: 0, complete: false };
  return new Promise((resolve) => {
    let done = false;
    const finish = (error?: Error & { code?: string }) => {
      if (done) return;
      done = true;
      if (error !== undefined) outcome.error = error.code ?? error.message;
      resolve(outcome);
    };
    const req = request(url, { agent, headers: { 'X-Request-Id': id } }, (res) => {
      outcome.status = res.statusCode;
      outcome.contentLength = Number(res.headers['content-length']);
      res.on('data', (chunk: Buffer) => {
        outcome.received += chunk.length;
        if (hold !== undefined) {
          res.pause();
          hold(() => res.resume());
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

test('SIGTERM under load with a download that is never read: accepted requests answered, new ones refused, exit 0 at the deadline', { timeout: 180_000 }, async () => {
  const child = spawn(process.execPath, ['--import', 'tsx', 'cli/main.ts', 'serve', '--models', models.dir, '--port', '0', '--api-only', '--device', 'cpu', '--workers', '1', '--no-watch', '--shutdown-timeout-ms', '1500'], {
    cwd: REPO_ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
  const log: { event: string; id?: string; status?: number; aborted?: boolean; url?: string }[] = [];
  const stderr: string[] = [];
  const record = (line: string) => {
    try {
      log.push(JSON.parse(line) as (typeof log)[number]);
    } catch {
      stderr.push(line);
    }
  };
  createInterface({ input: child.stderr }).on('line', record);
  const lines = createInterface({ input: child.stdout });
  lines.on('line', record);
  let held = false;
  let resume = () => {};
  let download: Promise<Outcome> | undefined;
  try {
    const url = await waitFor('the listening line', () => log.find((e) => e.event === 'listening')?.url, 60_000);
    await waitFor('/readyz 200', async () => ((await get(new Agent(), `${url}/readyz`, 'readyz')).status === 200 ? true : undefined), 60_000);
    const agent = new Agent({ keepAlive: true, maxSockets: CLIENTS });
    const outcomes: Outcome[] = [];
    let next = 0;
    let stopped = false;
    const clients = Array.from({ length: CLIENTS }, async (_, client) => {
      // Each client keeps sending until the server turns it away, as a balancer's connection pool would.
      while (!stopped) {
        const outcome = await get(agent, `${url}/generate?model=slow&n=4&format=npy`, `c${client}-r${next++}`);
        outcomes.push(outcome);
        if (outcome.status === undefined || outcome.status === 503) return;
      }
    });
    await waitFor('steady load', () => (outcomes.filter((o) => o.status === 200).length >= CLIENTS ? true : undefined));
    download = get(new Agent(), `${url}/models/large.onnx`, 'never-read', (release) => {
      held = true;
      resume = release;
    });
    await waitFor('the download to start', () => (held ? true : undefined));

    child.kill('SIGTERM');
    await waitFor("the 'shutdown' line", () => (log.some((e) => e.event === 'shutdown') ? true : undefined));
    // New connections from now on: each is refused (never accepted) or, in the moment before the listening socket
    // closes, accepted and answered in full; never cut.
    const fresh: Outcome[] = [];
    await waitFor('a refused connection', async () => {
      const outcome = await get(new Agent(), `${url}/healthz`, `fresh-${fresh.length}`);
      fresh.push(outcome);
      return outcome.error === 'ECONNREFUSED' ? true : undefined;
    });
    const [code, signal] = await exited; // the download is still held: only the deadline can have let it exit
    stopped = true;
    await Promise.all(clients);
    agent.destroy();
    resume(); // only now: what the server sent before it cut the connection, then the end of the stream
    const cut = await download;

    const context = `stderr:\n${stderr.join('\n')}`;
    assert.deepEqual({ code, signal }, { code: 0, signal: null }, context);
    assert.ok(held, 'the download was still unread when the process exited');
    assert.ok(log.some((e) => e.event === 'closed'), `no 'closed' line; ${context}`);
    assert.ok(!cut.complete && cut.received < (cut.contentLength ?? 0), `the unread download was cut: ${JSON.stringify(cut)}`);
    assert.deepEqual(log.filter((e) => e.event === 'request' && e.id === 'never-read').map((e) => ({ status: e.status, aborted: e.aborted })), [{ status: 200, aborted: true }], 'logged as cut at the deadline');
    const byId = new Map([...outcomes, ...fresh].map((o) => [o.id, o]));
    const accepted = log.filter((e) => e.event === 'request' && e.id !== 'never-read' && e.id !== 'readyz');
    for (const line of accepted) {
      const outcome = byId.get(line.id!);
      assert.ok(outcome !== undefined, `the server logged ${line.id}, which no client sent`);
      assert.equal(line.aborted, false, `${line.id} was accepted but not answered in full`);
      assert.ok(outcome.complete && outcome.received === outcome.contentLength, `${line.id}: ${outcome.received} of ${outcome.contentLength} bytes, ${outcome.error ?? ''}`);
      assert.ok(outcome.status === 200 || outcome.status === 503, `${line.id} → ${outcome.status}`);
    }
    const acceptedIds = new Set(accepted.map((l) => l.id));
    for (const outcome of [...outcomes, ...fresh]) {
      if (outcome.status !== undefined) continue;
      // Never accepted: refused or reset before any byte of a response, so a client may retry it elsewhere.
      assert.match(outcome.error ?? '', /^(ECONNREFUSED|ECONNRESET|EPIPE|socket hang up)$/, outcome.id);
      assert.equal(outcome.received, 0);
      assert.ok(!acceptedIds.has(outcome.id), `${outcome.id} was accepted, then dropped`);
    }
    console.log(JSON.stringify({ requests: outcomes.length, accepted: accepted.length, fresh: fresh.map((o) => o.status ?? o.error), cutAt: cut.received, of: cut.contentLength }));
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
});
