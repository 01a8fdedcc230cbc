// Lets @tensorflow/tfjs-backend-wasm 4.22's threaded SIMD build run in Node (run by "postinstall"; idempotent).
// Stock tfjs only loads it in browsers (tfjs#3830): in Node its pthread workers cannot start, because the glue hands
// node:worker_threads a blob: URL (only file: and data: work) and a Blob of the glue's own source for the worker to
// importScripts (the Node worker shim reads that with fs). The approach follows the closed tfjs PR #8059. Seven exact
// string edits in dist/tf-backend-wasm.node.js (the file Node loads: package.json "main"), all inert until
// train/backend.ts sets WASM_HAS_MULTITHREAD_SUPPORT, which this script leaves false in Node as stock tfjs does:
//   1. the pthread worker script is handed over as source text, and
//   2. started with { eval: true, execArgv: [] } (not inheriting --import tsx or --input-type=module, which would
//      load a TypeScript loader into every pthread or make the classic-script worker source an ES module);
//   3. the worker loads the emscripten glue from its file (wasm-out/, shipped in the package);
//   4. the thread cap reports 2 × os.availableParallelism() logical cores: backend.cc caps the pool at
//      emscripten_num_logical_cores() / 2 (it assumes 2 hyper-threads a core), which is 1 on a 2-core VM;
//   5. running pthreads stay unref()'d: XNNPACK's pool threads live until the backend is disposed and only work while
//      the main thread waits inside a kernel, so a ref'd worker would only keep a finished process alive forever;
//   6. a worker that fails while the module starts rejects the module's promise (tfjs's setBackend then returns
//      false and train/backend.ts retries single-threaded) instead of throwing from an event handler, which in Node
//      kills the process;
//   7. the glue pre-starts as many workers as setThreadsCount() needs (threads - 1: the main thread is one of them)
//      instead of 8, each of which compiles the 436 kB module (about 60 ms apiece on this 2-core VM).
//   node scripts/patch-tfjs-wasm.mjs            patch (no-op when already patched)
//   node scripts/patch-tfjs-wasm.mjs --check    exit 1 unless patched
// It never fails an install: a different tfjs version or unexpected file contents leave the file untouched with a
// message, and train/backend.ts then runs single-threaded and says why.

import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';

/** Also checked by train/backend.ts: keep the two in step. */
export const PATCH_MARKER = '/* ganforge:node-threads v1 */';
const EXPECTED_VERSION = '4.22.0';

/** [what it does, exact stock text (must occur once), replacement]. */
const EDITS = [
  [
    'worker script as source text',
    "if (path.endsWith('.worker.js')) {\n",
    "if (path.endsWith('.worker.js')) {\n" +
      "                                    if (tfjsCore.env().get('IS_NODE')) return wasmWorkerContents.replace(/\\n/g, '\\\\n');\n",
  ],
  [
    'eval worker',
    'worker = new Worker(pthreadMainJs);',
    'worker = ENVIRONMENT_IS_NODE ? new Worker(pthreadMainJs, { eval: true, execArgv: [] }) : new Worker(pthreadMainJs);',
  ],
  [
    'glue file for the worker',
    'factoryConfig.mainScriptUrlOrBlob = new Blob([',
    "factoryConfig.mainScriptUrlOrBlob = tfjsCore.env().get('IS_NODE') ? " +
      "require('path').join(__dirname, '../wasm-out/tfjs-backend-wasm-threaded-simd.js') : new Blob([",
  ],
  [
    'thread cap from availableParallelism',
    'return require$$4.cpus().length; return navigator["hardwareConcurrency"];',
    'return 2 * (require$$4.availableParallelism ? require$$4.availableParallelism() : require$$4.cpus().length); ' +
      'return navigator["hardwareConcurrency"];',
  ],
  [
    'pool threads unref()\'d',
    'worker.runPthread = function () { if (ENVIRONMENT_IS_NODE) {\n                worker.ref();\n            }',
    'worker.runPthread = function () { if (ENVIRONMENT_IS_NODE) {\n                worker.unref();\n            }',
  ],
  [
    'worker failure while starting rejects',
    'err(message + " " + e.filename + ":" + e.lineno + ": " + e.message); throw e; };',
    'err(message + " " + e.filename + ":" + e.lineno + ": " + e.message); ' +
      'if (ENVIRONMENT_IS_NODE && !calledRun) { readyPromiseReject(e); return; } throw e; };',
  ],
  [
    'worker pool sized to the thread count',
    'var pthreadPoolSize = 8;',
    'var pthreadPoolSize = ENVIRONMENT_IS_NODE && threadsCount > 1 ? Math.max(1, Math.min(8, threadsCount, ' +
      '(require$$4.availableParallelism ? require$$4.availableParallelism() : require$$4.cpus().length)) - 1) : 8;',
  ],
];

/** Patches `file` in place; returns what happened, for the log line. Exported for the test. */
export function patchTfjsWasm(file) {
  const source = readFileSync(file, 'utf8');
  if (source.includes(PATCH_MARKER)) return { patched: false, reason: 'already patched' };
  let out = source;
  for (const [what, from, to] of EDITS) {
    const at = out.indexOf(from);
    if (at < 0 || out.indexOf(from, at + from.length) >= 0) {
      return { patched: false, reason: `'${what}': expected text found ${at < 0 ? 'nowhere' : 'more than once'}` };
    }
    out = out.slice(0, at) + to + out.slice(at + from.length);
  }
  out = `${PATCH_MARKER}\n${out}`;
  const temp = `${file}.ganforge-tmp`;
  writeFileSync(temp, out);
  renameSync(temp, file);
  return { patched: true, reason: `${EDITS.length} edits` };
}

function main() {
  const require = createRequire(import.meta.url);
  let main;
  try {
    main = require.resolve('@tensorflow/tfjs-backend-wasm');
  } catch {
    console.log('patch-tfjs-wasm: @tensorflow/tfjs-backend-wasm is not installed; nothing to patch');
    return 0;
  }
  const packageDir = join(dirname(main), '..');
  const { version } = JSON.parse(readFileSync(join(packageDir, 'package.json'), 'utf8'));
  const check = process.argv.includes('--check');
  if (check) {
    const ok = readFileSync(main, 'utf8').includes(PATCH_MARKER);
    console.log(`patch-tfjs-wasm: ${main} is ${ok ? '' : 'not '}patched`);
    return ok ? 0 : 1;
  }
  if (version !== EXPECTED_VERSION) {
    console.log(`patch-tfjs-wasm: @tensorflow/tfjs-backend-wasm is ${version}, the patch is for ${EXPECTED_VERSION}; ` +
      'left unpatched (training runs single-threaded)');
    return 0;
  }
  const result = patchTfjsWasm(main);
  console.log(`patch-tfjs-wasm: ${result.patched ? 'patched' : 'left unchanged'} ${main} (${result.reason})`);
  return 0;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) process.exitCode = main();
