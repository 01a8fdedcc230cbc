// Builds the browser client into web/dist: ganforge.js (the public ES module, with <gan-sampler>), the demo page, and
// onnxruntime-web's .wasm/.mjs files under ort/ so that pages never reach for a CDN. Run: node scripts/build-web.mjs
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

const options = {
  absWorkingDir: root,
  entryPoints: { ganforge: 'web/src/ganforge.ts', demo: 'web/demo/demo.ts' },
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
  plugins: [demoUsesBuiltLibrary],
};

if (watch) {
  const context = await esbuild.context(options);
  await context.watch();
  console.log(`build-web: watching, output in ${out}`);
} else {
  const result = await esbuild.build({ ...options, metafile: true });
  const outputs = Object.entries(result.metafile.outputs).filter(([file]) => !file.endsWith('.map'));
  for (const [file, { bytes }] of outputs) console.log(`${file.padEnd(48)} ${(bytes / 1024).toFixed(1).padStart(8)} KiB`);
  console.log(`build-web: ${outputs.length} files + ${ORT_FILES.length} onnxruntime-web files in ${out}`);
}
