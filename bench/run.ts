// `npm run bench`: every benchmark in turn, each printing a table with its baseline measured in the same run.
// Run one alone with `npx tsx bench/<name>.ts --help` for its options. Benchmarks are never part of `npm test`.
// soak.ts runs for 5 minutes; bench/ort-ceiling.ts and bench/load.ts are helpers of the serving benchmarks.
import { spawnSync } from 'node:child_process';

const BENCHMARKS = ['train-steps.ts', 'inference-throughput.ts', 'serve-throughput.ts', 'conv-batching.ts', 'browser-throughput.ts', 'soak.ts'];
const only = process.argv.slice(2);
for (const file of BENCHMARKS.filter((name) => only.length === 0 || only.some((o) => name.startsWith(o)))) {
  console.log(`\n## bench/${file}`);
  const result = spawnSync(process.execPath, ['--import', 'tsx', new URL(file, import.meta.url).pathname], { stdio: 'inherit' });
  if (result.status !== 0) console.log(`bench/${file} exited with ${result.status ?? result.signal}`);
}
