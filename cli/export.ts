// `ganforge export <runDir> --out models/x.onnx`: the run's newest checkpoint → a parity-checked ONNX generator.

import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { parseArgs } from 'node:util';
import { readManifest } from '../common/onnx-metadata.ts';
import { exportTritonModel } from '../export/triton.ts';
import { exportRun } from '../export/export-run.ts';
import { BACKEND_PREFERENCES, describeBackend, selectBackend, type BackendPreference } from '../train/backend.ts';
import type { Subcommand } from './subcommand.ts';

const HELP = `usage: ganforge export <runDir> --out models/<name>.onnx [options]

Exports the generator of the run's newest checkpoint (or of the checkpoint folder given, or with --best of the one
with the best eval metric) to ONNX, checks it against
tfjs on seeded latents in onnxruntime-node, and only then writes <name>.onnx and <name>.json.

options:
  --out PATH          where to write the .onnx (required); <name>.json goes beside it
  --best              the checkpoint best.json names (best eval metric; needs a run trained with --eval-every N)
  --samples N         seeded latents compared in the parity check (default: 256)
  --tolerance X       largest accepted max |tfjs - ONNX| (default: 1e-4)
  --triton DIR        also write a Triton Inference Server model repository entry: DIR/<name>/config.pbtxt and
                      DIR/<name>/1/model.onnx (platform onnxruntime_onnx, dynamic batching)
  --backend B         tfjs backend for the reference: ${BACKEND_PREFERENCES.join(' | ')} (default: cpu, tfjs's reference kernels)
  -h, --help          show this help`;

export const exportCommand: Subcommand = {
  summary: "export a run's generator to ONNX",
  async run(args: string[]): Promise<number> {
    const { values, positionals } = parseArgs({
      args,
      options: {
        out: { type: 'string' },
        samples: { type: 'string', default: '256' },
        tolerance: { type: 'string', default: '1e-4' },
        backend: { type: 'string', default: 'cpu' },
        triton: { type: 'string' },
        best: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
      allowPositionals: true,
      strict: true,
    });
    if (values.help) {
      console.log(HELP);
      return 0;
    }
    const usageError = (message: string): number => {
      console.error(`ganforge export: ${message}\n\n${HELP}`);
      return 2;
    };
    if (positionals.length !== 1) return usageError(`expected one run folder, got ${positionals.length} (${positionals.join(' ')})`);
    if (values.out === undefined) return usageError("'--out' is required (e.g. --out models/mlp.onnx)");
    if (!values.out.endsWith('.onnx')) return usageError(`'--out' must end in .onnx, got '${values.out}'`);
    const samples = /^\d+$/.test(values.samples) ? Number(values.samples) : NaN;
    if (!Number.isSafeInteger(samples) || samples < 1 || samples > 100_000) return usageError(`'--samples' must be an integer in [1, 100000], got '${values.samples}'`);
    const tolerance = Number(values.tolerance);
    if (values.tolerance.trim() === '' || !Number.isFinite(tolerance) || tolerance < 0) return usageError(`'--tolerance' must be a number ≥ 0, got '${values.tolerance}'`);
    if (!(BACKEND_PREFERENCES as readonly string[]).includes(values.backend)) {
      return usageError(`'--backend' must be one of ${BACKEND_PREFERENCES.join(', ')}, got '${values.backend}'`);
    }

    const backend = await selectBackend({ prefer: values.backend as BackendPreference });
    if (backend.name !== values.backend && values.backend !== 'auto') console.error(describeBackend(backend));
    const report = await exportRun({ runDir: positionals[0]!, outPath: values.out, samples, tolerance, best: values.best });
    const { parity } = report;
    console.log(
      `parity: max |Δ| ${parity.maxAbsDiff.toExponential(2)}, mean |Δ| ${parity.meanAbsDiff.toExponential(2)} over ${parity.samples} samples ` +
        `(tolerance ${parity.tolerance}, tfjs ${parity.backend} vs onnxruntime-node cpu)`,
    );
    if (values.best) console.log(`best checkpoint: step ${report.manifest.training.steps}`);
    console.log(`wrote ${report.path} (${report.bytes} bytes) and ${report.sidecarPath}`);
    if (values.triton !== undefined) {
      // From the written file, not from memory: Triton gets exactly the bytes that passed the parity check.
      const bytes = new Uint8Array(readFileSync(report.path));
      const triton = exportTritonModel({ dir: values.triton, name: basename(report.path, '.onnx'), onnx: bytes, manifest: readManifest(bytes, report.path) });
      console.log(`wrote Triton model ${triton.configPath} and ${triton.onnxPath}`);
    }
    return 0;
  },
};
