// A seeded fuzz of the HTTP surface against the real `ganforge serve` in a child process: 1,200 requests drawn by
// common/random.ts's SeededRandom (so a failure replays exactly) from every route, with valid, boundary and hostile
// parameter values, odd encodings, repeated and unknown parameters, junk headers, methods and bodies. Every answer must
// be below 500, every JSON error must carry a known code, the process must not crash or log an internal error, and its
// resident memory must stay bounded.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { after, before, test } from 'node:test';
import { SeededRandom } from '../../common/random.ts';
import { rawRequest, type RawResponse } from './raw-http.ts';
import { DIGIT_CLASSES, makeModelsDir } from './serve-fixtures.ts';

const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SEED = 20_261_202;
const REQUESTS = 1_200;
const CONCURRENCY = 4; // × n ≤ 64 stays far below the queue limit: an OVERLOADED 503 would be no finding
const KNOWN_CODES = new Set(['INVALID_PARAMETER', 'UNKNOWN_MODEL', 'NOT_FOUND', 'METHOD_NOT_ALLOWED', 'PAYLOAD_TOO_LARGE']);

let models: ReturnType<typeof makeModelsDir>;
before(() => {
  models = makeModelsDir({ default: {}, digits: { classes: DIGIT_CLASSES, weightSeed: 2 } });
});
after(() => models.cleanup());

class Draw {
  constructor(private readonly random: SeededRandom) {}
  int(below: number): number {
    return this.random.nextUint32() % below;
  }
  chance(p: number): boolean {
    return this.random.nextOpenUnit() < p;
  }
  pick<T>(list: readonly T[]): T {
    return list[this.int(list.length)]!;
  }
  /** A string of `length` characters from `alphabet`. */
  text(alphabet: string, length: number): string {
    let out = '';
    for (let i = 0; i < length; i++) out += alphabet[this.int(alphabet.length)];
    return out;
  }
}

const PATHS = ['/generate', '/generate', '/generate', '/generate/', '/models', '/models/default.onnx', '/models/digits.onnx', '/healthz', '/readyz', '/metrics', '/openapi.json', '/', '/index.html', '/web/ganforge.js', '/favicon.ico'];
const PARAMS = ['model', 'n', 'seed', 'class', 'truncation', 'truncationMode', 'format'];
const VALUES: Record<string, string[]> = {
  model: ['default', 'digits', 'nope', '', '..%2fdefault', 'DEFAULT', 'default.onnx', '%00', 'a'.repeat(300)],
  n: ['1', '2', '16', '64', '65', '0', '-1', '1.5', '1e2', '0x10', ' 1', '+1', '01', '9007199254740993', 'NaN', ''],
  seed: ['0', '1', '4294967295', '4294967296', '-0', '-1', '1.0', '1e3', '99999999999999999999999', 'abc', ''],
  class: ['0', '2', '3', '-1', 'zero', 'ONE', 'Two', 'three', '1.5', '', '%E2%9C%93', '0,1'],
  truncation: ['1', '0.7', '0.5', '0', '0.001', '-0.5', '1.01', 'NaN', 'Infinity', '1e-400', '.5', ''],
  truncationMode: ['psi', 'resample', 'PSI', 'clamp', ''],
  format: ['png', 'json', 'npy', 'gif', 'PNG', ''],
};
const JUNK = 'abcXYZ019-._~!$&\'()*+,;=:@/?%';

/** One fuzz request: method, target and extra header lines, and a body. */
function drawRequest(draw: Draw): { method: string; target: string; headers: string[]; body: string } {
  const method = draw.chance(0.85) ? 'GET' : draw.pick(['HEAD', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'PATCH', 'get']);
  let path = draw.pick(PATHS);
  if (draw.chance(0.08)) path = `/${draw.text(JUNK, 1 + draw.int(40))}`;
  if (draw.chance(0.05)) path = `/models/${draw.pick(['%2e%2e%2f', '..%252f', '%c0%ae', '%', '%zz', '%00', ''])}${draw.text(JUNK, draw.int(12))}.onnx`;
  const pairs: string[] = [];
  const count = draw.int(path.startsWith('/generate') ? 6 : 2);
  for (let i = 0; i < count; i++) {
    const name = draw.chance(0.9) ? draw.pick(PARAMS) : draw.text(JUNK.slice(0, 12), 1 + draw.int(8));
    let value = draw.pick(VALUES[name] ?? ['x']);
    if (draw.chance(0.1)) value = draw.text(JUNK, draw.int(30));
    if (draw.chance(0.03)) value = draw.text('0123456789', 200 + draw.int(3000)); // some above the 2048-byte query bound
    if (draw.chance(0.05)) value = encodeURIComponent(encodeURIComponent(value));
    pairs.push(draw.chance(0.05) ? name : `${name}=${value}`);
  }
  if (draw.chance(0.05)) pairs.push(draw.pick(['&&', '=', '==', '&=&', '%26', 'n=1&n=2']));
  const target = pairs.length === 0 && !draw.chance(0.05) ? path : `${path}?${pairs.join('&')}`;
  const headers: string[] = [];
  if (draw.chance(0.15)) headers.push(`If-None-Match: ${draw.pick(['*', '"x"', 'W/"g2-abc"', '"', '', draw.text(JUNK, 40)])}`);
  if (draw.chance(0.1)) headers.push(`X-Request-Id: ${draw.text(JUNK, draw.int(200))}`);
  if (draw.chance(0.05)) headers.push(`Origin: https://${draw.text('abc', 5)}.example`);
  if (draw.chance(0.05)) headers.push(`Range: bytes=${draw.int(100)}-${draw.int(100)}`);
  if (draw.chance(0.05)) headers.push(`Accept: ${draw.pick(['image/png', '*/*', 'application/json;q=0', draw.text(JUNK, 20)])}`);
  let body = '';
  if (draw.chance(0.06)) {
    body = draw.text(JUNK, draw.int(2000));
    headers.push(`Content-Length: ${Buffer.byteLength(body)}`);
  } else if (draw.chance(0.03)) {
    const chunk = draw.text(JUNK, 1 + draw.int(100));
    body = `${chunk.length.toString(16)}\r\n${chunk}\r\n0\r\n\r\n`;
    headers.push('Transfer-Encoding: chunked');
  }
  return { method, target, headers, body };
}

function rssBytes(pid: number): number {
  const line = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  assert.ok(line, `no VmRSS for pid ${pid}`);
  return Number(line[1]) * 1024;
}

test(`seeded fuzz (seed ${SEED}, ${REQUESTS} requests) against the real CLI: no 5xx, no crash, no internal error, RSS bounded`, { timeout: 300_000 }, async () => {
  const child = spawn(process.execPath, ['--import', 'tsx', 'cli/main.ts', 'serve', '--models', models.dir, '--port', '0', '--api-only', '--device', 'cpu', '--workers', '1'], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = once(child, 'exit');
  const log: Record<string, unknown>[] = [];
  const unparsed: string[] = [];
  const collect = (line: string) => {
    try {
      log.push(JSON.parse(line) as Record<string, unknown>);
    } catch {
      unparsed.push(line);
    }
  };
  createInterface({ input: child.stderr }).on('line', collect);
  try {
    const url = await new Promise<string>((resolve, reject) => {
      createInterface({ input: child.stdout }).on('line', (line) => {
        collect(line);
        const entry = log.at(-1);
        if (entry?.event === 'listening') resolve(String(entry.url));
      });
      void exited.then(([code]) => reject(new Error(`serve exited with ${String(code)} before listening: ${unparsed.join('\n')}`)));
    });
    // Warm-up, so that the RSS baseline includes the sessions, the JIT and the sockets of normal operation.
    for (let i = 0; i < 50; i++) assert.equal((await rawRequest(url, `GET /generate?seed=${i}&n=${1 + (i % 64)}&format=${['png', 'json', 'npy'][i % 3]} HTTP/1.1`)).status, 200);
    const rssBefore = rssBytes(child.pid!);

    const draw = new Draw(new SeededRandom(SEED));
    const requests = Array.from({ length: REQUESTS }, () => drawRequest(draw));
    const statuses: Record<number, number> = {};
    const findings: string[] = [];
    let next = 0;
    await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
      while (next < requests.length) {
        const index = next++;
        const { method, target, headers, body } = requests[index]!;
        const head = [`${method} ${target} HTTP/1.1`, ...headers].join('\r\n');
        const response: RawResponse = await rawRequest(url, head, body);
        statuses[response.status] = (statuses[response.status] ?? 0) + 1;
        const where = `request #${index} ${method} ${target.slice(0, 120)} [${headers.join(' | ').slice(0, 120)}]`;
        if (response.status === 0 || response.status >= 500) findings.push(`${where} → ${response.status} ${response.body.toString().slice(0, 200)}`);
        else if (response.status >= 400 && method !== 'HEAD' && /^application\/json/.test(response.headers['content-type'] ?? '')) {
          const error = (JSON.parse(response.body.toString()) as { error?: string }).error;
          if (!KNOWN_CODES.has(error ?? '')) findings.push(`${where} → ${response.status} with code ${error}`);
        }
      }
    }));
    const rssAfter = rssBytes(child.pid!);
    assert.deepEqual(findings, [], `fuzz findings (seed ${SEED})`);
    assert.equal(child.exitCode, null, 'the server is still running');
    assert.equal((await rawRequest(url, 'GET /healthz HTTP/1.1')).status, 200);
    const internal = log.filter((e) => e.event === 'internal-error' || e.level === 'error');
    assert.deepEqual(internal, [], 'no internal error was logged');
    assert.deepEqual(unparsed, [], 'nothing but JSON log lines (a crash would print a stack)');
    const grownMb = (rssAfter - rssBefore) / 2 ** 20;
    // Generous: what matters is that 1,200 hostile requests do not grow the process without bound.
    assert.ok(grownMb < 128, `RSS grew by ${grownMb.toFixed(1)} MB (${(rssBefore / 2 ** 20).toFixed(0)} → ${(rssAfter / 2 ** 20).toFixed(0)} MB)`);
    console.log(JSON.stringify({ seed: SEED, requests: REQUESTS, statuses, rssBeforeMb: Math.round(rssBefore / 2 ** 20), rssAfterMb: Math.round(rssAfter / 2 ** 20) }));
    child.kill('SIGTERM');
    const [code] = (await exited) as [number | null, NodeJS.Signals | null];
    assert.equal(code, 0, 'a clean exit on SIGTERM after the fuzz');
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
});
