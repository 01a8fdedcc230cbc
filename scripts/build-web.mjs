// Builds the browser client into web/dist: ganforge.js (the public ES module, with <gan-sampler>), ganforge-worker.js
// (the Web Worker that runs inference), the demo page, and onnxruntime-web's .wasm/.mjs files under ort/ so that pages
// never reach for a CDN. Run: node scripts/build-web.mjs
import { copyFileSync, mkdirSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, 'web', 'dist');
const watch = process.argv.includes('--watch');

// The plain wasm build (pages without WebGPU) and the WebGPU build (asyncify); the JSEP/JSPI variants are never loaded.
const ORT_FILES = ['ort-wasm-simd-threaded.wasm', 'ort-wasm-simd-threaded.mjs', 'ort-wasm-simd-threaded.asyncify.wasm', 'ort-wasm-simd-threaded.asyncify.mjs'];

// The demo uses the library that the page already loads from /web/ganforge.js: one module instance, one session cache.
const demoUsesBuiltLibrary = {
  name: 'demo-uses-built-library',
  setup(build) {
    build.onResolve({ filter: /\/src\/ganforge\.ts$/ }, (args) => (args.importer.includes(`${join('web', 'demo')}`) ? { path: './ganforge.js', external: true } : undefined));
  },
};

rmSync(out, { recursive: true, force: true });
mkdirSync(join(out, 'ort'), { recursive: true });
const ortDist = dirname(createRequire(import.meta.url).resolve('onnxruntime-web/ort-wasm-simd-threaded.wasm'));
for (const file of ORT_FILES) copyFileSync(join(ortDist, file), join(out, 'ort', file));
for (const file of ['index.html', 'embed.html', 'demo.css']) copyFileSync(join(root, 'web', 'demo', file), join(out, file));

const shared = {
  absWorkingDir: root,
  outdir: out,
  bundle: true,
  format: 'esm',
  // The two onnxruntime-web builds are loaded on demand as hashed chunks; only the one the browser needs is fetched.
  splitting: true,
  chunkNames: 'chunks/[name]-[hash]',
  platform: 'browser',
  target: 'es2022',
  // onnxruntime-web's builds that fetch their .mjs glue from env.wasm.wasmPaths, instead of embedding a copy of it.
  conditions: ['onnxruntime-web-use-extern-wasm'],
  minify: true,
  sourcemap: true,
  legalComments: 'linked',
  logLevel: 'warning',
};

// The page's build and the worker's are separate, so that no module of either lands in a chunk shared with the other:
// the code that finds files by import.meta.url (the worker script, ort/) must sit in an entry file at web/dist's root.
const builds = [
  { ...shared, entryPoints: { ganforge: 'web/src/ganforge.ts', demo: 'web/demo/demo.ts' }, plugins: [demoUsesBuiltLibrary] },
  { ...shared, entryPoints: { 'ganforge-worker': 'web/src/inference-worker.ts' } },
];
// Each file that resolves URLs from import.meta.url, and the entry it must be bundled into (not a chunk).
const ROOT_RELATIVE = { 'web/src/worker-runner.ts': 'web/dist/ganforge.js', 'web/src/ort-web.ts': 'web/dist/ganforge-worker.js' };

if (watch) {
  for (const options of builds) await (await esbuild.context(options)).watch();
  console.log(`build-web: watching, output in ${out}`);
} else {
  const outputs = new Map(); // both builds emit the same onnxruntime-web chunks (same content, same hashed name)
  for (const options of builds) {
    const result = await esbuild.build({ ...options, metafile: true });
    for (const [file, output] of Object.entries(result.metafile.outputs)) {
      if (file.endsWith('.map')) continue;
      outputs.set(file, output.bytes);
      for (const [input, entry] of Object.entries(ROOT_RELATIVE)) {
        if (input in output.inputs && file.startsWith('web/dist/chunks/')) throw new Error(`build-web: ${input} was bundled into ${file}, where its import.meta.url is a chunk's; it must be in ${entry}`);
      }
    }
  }
  for (const [file, bytes] of outputs) console.log(`${file.padEnd(48)} ${(bytes / 1024).toFixed(1).padStart(8)} KiB`);
  console.log(`build-web: ${outputs.size} files + ${ORT_FILES.length} onnxruntime-web files in ${out}`);
}
