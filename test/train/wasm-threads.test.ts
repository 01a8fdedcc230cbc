// The wasm backend's threaded SIMD build in Node (scripts/patch-tfjs-wasm.mjs + train/backend.ts): it really runs on
// more than one thread, computes what the single-threaded build computes, lets a finished process exit by itself, and
// falls back to one thread with the reason when threads cannot start.

import * as tf from '@tensorflow/tfjs';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';
import { describeBackend, selectBackend, type SelectedBackend } from '../../train/backend.ts';
import { sameBits } from './helpers.ts';

const ROOT = join(import.meta.dirname, '../..');
const TWO_CORES = availableParallelism() >= 2 ? false : 'needs 2 cores';

/** Runs `code` (ESM, `selectBackend` in scope) in a fresh node under tsx; resolves with its exit code and stdout. */
function runChild(code: string, nodeFlags: string[] = []): Promise<{ exitCode: number | null; stdout: string; stderr: string }> {
  const backendUrl = pathToFileURL(join(ROOT, 'train/backend.ts')).href;
  const script = `const { selectBackend, describeBackend } = await import(${JSON.stringify(backendUrl)});\n${code}`;
  const child = spawn(process.execPath, [...nodeFlags, '--import', 'tsx', '--input-type=module', '-e', script], { cwd: ROOT });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (exitCode) => resolve({ exitCode, stdout, stderr }));
  });
}

/** The child's result line (tfjs may log above it). */
function lastLine(stdout: string): string {
  return stdout.trim().split('\n').at(-1) ?? '';
}

/** A seeded [rows, cols] matrix, identical on every backend. */
function matrix(rows: number, cols: number, seed: number): tf.Tensor2D {
  let s = seed;
  const values = Float32Array.from({ length: rows * cols }, () => ((s = (s * 1103515245 + 12345) % 2 ** 31) / 2 ** 31) * 2 - 1);
  return tf.tensor2d(values, [rows, cols]);
}

/** A product big enough for XNNPACK to split it across threads, plus a Dense-style transposed one. */
function products(): Float32Array[] {
  return tf.tidy(() => {
    const a = matrix(256, 512, 1);
    const b = matrix(512, 384, 2);
    return [tf.matMul(a, b), tf.matMul(b, a, true, true)].map((t) => t.dataSync() as Float32Array);
  });
}

describe('wasm threads', () => {
  it('the threaded SIMD build runs on 2 threads and its matMul equals the single-threaded build bit for bit', { skip: TWO_CORES }, async () => {
    const threaded = await selectBackend({ prefer: 'wasm', wasmThreads: 2 });
    assert.equal(threaded.name, 'wasm');
    assert.deepEqual([threaded.threads, threaded.wasmBuild, threaded.notes], [2, 'threaded-simd', []]);
    assert.match(describeBackend(threaded), /^tfjs backend: wasm, 2 threads \(threaded SIMD build[;)]/);
    // The pool's second thread is a live pthread worker (XNNPACK's pool: the main thread is the other one).
    const pthreads = (tf.backend() as unknown as { wasm: { PThread: { runningWorkers: unknown[] } } }).wasm.PThread;
    assert.equal(pthreads.runningWorkers.length, 1);
    const fromThreads = products();

    const single = await selectBackend({ prefer: 'wasm', wasmThreads: 1 });
    assert.deepEqual([single.name, single.threads, single.wasmBuild, single.notes], ['wasm', 1, 'simd', []]);
    assert.match(describeBackend(single), /^tfjs backend: wasm, 1 thread \(SIMD build[;)]/);
    assert.ok(sameBits(fromThreads, products()), 'threaded and single-threaded matMul differ');
  });

  it("'auto' uses every core", async () => {
    const selected = await selectBackend({ prefer: 'wasm' });
    assert.equal(selected.threads, Math.min(availableParallelism(), 8));
  });

  it('a process that trained on threads exits by itself with code 0', { skip: TWO_CORES, timeout: 120_000 }, async () => {
    // No process.exit: the child ends only if no pthread worker holds its event loop open (the timeout is a hang guard).
    const { exitCode, stdout, stderr } = await runChild(`
      const tf = await import('@tensorflow/tfjs');
      const selected = await selectBackend({ prefer: 'wasm', wasmThreads: 2 });
      const x = tf.randomNormal([128, 256], 0, 1, 'float32', 1);
      await tf.matMul(x, x, false, true).data();
      console.log(JSON.stringify(selected));`);
    assert.equal(exitCode, 0, stderr);
    assert.equal((JSON.parse(lastLine(stdout)) as SelectedBackend).threads, 2);
  });

  it('when the pthread workers cannot start it trains single-threaded and says why', { skip: TWO_CORES, timeout: 120_000 }, async () => {
    // A hardened node that forbids eval: the pthread workers cannot load the emscripten glue (importScripts evals it),
    // so the threaded build's start fails for real and selectBackend retries with the single-threaded SIMD build.
    const { exitCode, stdout, stderr } = await runChild(`
      const tf = await import('@tensorflow/tfjs');
      const selected = await selectBackend({ prefer: 'wasm', wasmThreads: 2 });
      const sum = tf.matMul(tf.ones([3, 4]), tf.ones([4, 5])).sum().dataSync()[0];
      console.log(JSON.stringify({ selected, line: describeBackend(selected), sum }));`, ['--disallow-code-generation-from-strings']);
    assert.equal(exitCode, 0, stderr);
    const { selected, line, sum } = JSON.parse(lastLine(stdout)) as { selected: SelectedBackend; line: string; sum: number };
    assert.deepEqual([selected.name, selected.threads, selected.wasmBuild, sum], ['wasm', 1, 'simd', 60]);
    assert.match(line, /^tfjs backend: wasm, 1 thread \(SIMD build; wasm threads off: the threaded SIMD build failed to initialise/);
    assert.match(stderr, /EvalError/); // tfjs's own log of why
  });

  it('rejects a bad thread count naming the option', async () => {
    await assert.rejects(selectBackend({ wasmThreads: 0 }), { name: 'RangeError', message: "'wasmThreads' must be a positive integer or 'auto', got 0" });
    await assert.rejects(selectBackend({ wasmThreads: 1.5 }), RangeError);
    await assert.rejects(selectBackend({ wasmThreads: '2' as unknown as number }), TypeError);
  });

  it('the postinstall patch is applied, and re-running it changes nothing', async () => {
    const script = join(ROOT, 'scripts/patch-tfjs-wasm.mjs');
    const run = (args: string[]) => new Promise<{ code: number | null; out: string }>((resolve) => {
      const child = spawn(process.execPath, [script, ...args], { cwd: ROOT });
      let out = '';
      child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
      child.on('close', (code) => resolve({ code, out }));
    });
    assert.equal((await run(['--check'])).code, 0);
    assert.match((await run([])).out, /left unchanged .* \(already patched\)/);
  });
});
