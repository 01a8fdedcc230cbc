// The CUDA probe and the provider choice on made-up install folders: which file is missing is what the user reads,
// so each case names it; and on this machine's real install the probe agrees with what onnxruntime-node can do.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { GanforgeError } from '../../common/errors.ts';
import { CUDA_DRIVER_LIBRARY, CUDA_PROVIDER_LIBRARIES, probeCudaProvider } from '../../runtime/cuda-probe.ts';
import { chooseProvider, createNodeSession } from '../../runtime/ort-node.ts';
import { buildFixtureGenerator } from '../fixtures/onnx-fixtures.ts';

const root = mkdtempSync(join(tmpdir(), 'ganforge-cuda-probe-'));
after(() => rmSync(root, { recursive: true, force: true }));
const folder = (name: string, files: readonly string[]) => {
  const dir = join(root, name);
  mkdirSync(dir, { recursive: true });
  for (const file of files) writeFileSync(join(dir, file), '');
  return dir;
};
const noCache = join(root, 'no-ld.so.cache');

test('no provider libraries: not available, naming the missing files and how they get there', () => {
  const probe = probeCudaProvider({ platform: 'linux', bindingDir: folder('bare', ['libonnxruntime.so.1']), driverDirs: [], loaderCache: noCache });
  assert.equal(probe.available, false);
  assert.equal(probe.reason, "onnxruntime-node's CUDA provider is not installed (no libonnxruntime_providers_shared.so, libonnxruntime_providers_cuda.so in its binding folder; a plain npm install skips it)");
  const half = probeCudaProvider({ platform: 'linux', bindingDir: folder('half', ['libonnxruntime_providers_shared.so']), driverDirs: [], loaderCache: noCache });
  assert.match(half.reason, /\(no libonnxruntime_providers_cuda\.so in/);
});

test('provider libraries without the driver: not available, naming libcuda.so.1; with it (a folder or the loader cache): available', () => {
  const bindingDir = folder('installed', CUDA_PROVIDER_LIBRARIES);
  const noDriver = probeCudaProvider({ platform: 'linux', bindingDir, driverDirs: [folder('empty-lib', [])], loaderCache: noCache });
  assert.deepEqual(noDriver, { available: false, reason: 'the CUDA provider is installed but the NVIDIA driver is not (no libcuda.so.1 on the library path)' });
  const inFolder = probeCudaProvider({ platform: 'linux', bindingDir, driverDirs: [folder('driver-lib', [CUDA_DRIVER_LIBRARY])], loaderCache: noCache });
  assert.equal(inFolder.available, true);
  const cache = join(root, 'ld.so.cache');
  writeFileSync(cache, Buffer.from(`glibc-ld.so.cache1.1\0libc.so.6\0${CUDA_DRIVER_LIBRARY}\0/usr/lib/x86_64-linux-gnu/${CUDA_DRIVER_LIBRARY}\0`));
  assert.equal(probeCudaProvider({ platform: 'linux', bindingDir, driverDirs: [], loaderCache: cache }).available, true);
});

test('platforms onnxruntime-node has no CUDA build for are not probed', () => {
  assert.deepEqual(probeCudaProvider({ platform: 'darwin' }), { available: false, reason: 'onnxruntime-node has no CUDA provider for darwin' });
});

test('the provider choice: cpu as asked, auto falls back with the reason, cuda refuses with it', () => {
  const missing = { available: false, reason: 'no libcuda.so.1' };
  const present = { available: true, reason: 'all there' };
  assert.deepEqual(chooseProvider('cpu', missing), { provider: 'cpu', reason: "CPU, as '--device cpu' asks" });
  assert.deepEqual(chooseProvider('auto', missing), { provider: 'cpu', reason: 'CPU: no libcuda.so.1 (see the README, "Backends and devices")' });
  assert.deepEqual(chooseProvider('auto', present), { provider: 'cuda', reason: 'CUDA: all there' });
  assert.deepEqual(chooseProvider('cuda', present), { provider: 'cuda', reason: 'CUDA: all there' });
  assert.throws(() => chooseProvider('cuda', missing), (error: unknown) =>
    error instanceof GanforgeError && error.code === 'INVALID_PARAMETER' && error.parameter === 'device' &&
    error.message === "'device' is 'cuda' but CUDA cannot run here: no libcuda.so.1; use 'auto' or 'cpu', or see the README, \"Backends and devices\"");
});

test("this machine's install: a session on 'auto' runs on the provider the probe predicts", { skip: probeCudaProvider().available && 'CUDA may still fail at session creation here' }, async () => {
  const { session, provider, fallbackReason } = await createNodeSession(buildFixtureGenerator({}), { device: 'auto' });
  try {
    assert.equal(provider, 'cpu');
    assert.equal(fallbackReason, chooseProvider('auto').reason);
  } finally {
    await session.release();
  }
  await assert.rejects(createNodeSession(buildFixtureGenerator({}), { device: 'cuda' }), /'device' is 'cuda' but CUDA cannot run here/);
});
