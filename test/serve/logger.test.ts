import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { createJsonLogger } from '../../serve/logger.ts';

function collector(): { stream: Writable; writes: string[] } {
  const writes: string[] = [];
  const stream = new Writable({ write(chunk: Buffer, _encoding, done) { writes.push(chunk.toString('utf8')); done(); } });
  return { stream, writes };
}

test('info lines of one event-loop turn go out in one write, each a JSON object with a timestamp', async () => {
  const out = collector();
  const err = collector();
  const log = createJsonLogger(out.stream, err.stream);
  for (let i = 0; i < 50; i++) log({ level: 'info', event: 'request', i });
  assert.equal(out.writes.length, 0); // nothing written synchronously
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(out.writes.length, 1);
  const lines = out.writes[0]!.trimEnd().split('\n').map((l) => JSON.parse(l) as { time: string; event: string; i: number });
  assert.deepEqual(lines.map((l) => l.i), Array.from({ length: 50 }, (_, i) => i));
  assert.ok(lines.every((l) => !Number.isNaN(Date.parse(l.time)) && l.event === 'request'));
  log({ level: 'info', event: 'later' });
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(out.writes.length, 2);
  assert.equal(err.writes.length, 0);
});

test('a warning or error is written at once, after the info lines logged before it', () => {
  const writes: string[] = [];
  const stream = new Writable({ write(chunk: Buffer, _encoding, done) { writes.push(chunk.toString('utf8')); done(); } });
  const log = createJsonLogger(stream, stream);
  log({ level: 'info', event: 'first' });
  log({ level: 'error', event: 'second' });
  assert.deepEqual(writes.map((w) => (JSON.parse(w) as { event: string }).event), ['first', 'second']);
});

test('lines still pending when the process exits are written', () => {
  const script = `import { createJsonLogger } from './serve/logger.ts'; const log = createJsonLogger(); log({ level: 'info', event: 'last-words' }); process.exit(0);`;
  const output = execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8' });
  assert.match(output, /"event":"last-words"/);
});
