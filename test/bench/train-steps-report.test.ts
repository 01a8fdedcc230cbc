// bench/train-steps-report.ts: the analytic FLOP count of a GAN step, the PyTorch result parser and the table.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { formatStepTable, ganStepFlops, LAYER_MACS, parseTorchResult, ratioToTorch, type StepRow } from '../../bench/train-steps-report.ts';

describe('ganStepFlops', () => {
  it('counts D: G fwd + 2B×(fwd + dW + dx but the first), G: G fwd + D fwd + D dx + G dW + G dx but the first', () => {
    // G one layer of 10 MACs, D two layers of 3 and 5; batch 2.
    // D step: 2·10 + 4·(8 + 8 + 5) = 104; G step: 2·(10 + 8 + 8 + 10 + 0) = 72; FLOPs = 2·176.
    assert.equal(ganStepFlops({ generator: [10], discriminator: [3, 5] }, 2), 352);
  });

  it('gives the documented per-step totals of the two benchmark models at batch 64', () => {
    // MLP: D step 64·1,483,776 + 128·(532,736 + 532,736 + 131,328); G step 64·5,491,200 MACs.
    assert.equal(ganStepFlops(LAYER_MACS.mlp, 64), 2 * 599_588_864);
    assert.ok(Math.abs(ganStepFlops(LAYER_MACS.dcgan, 64) / 1e9 - 10.37) < 0.01);
    // The DCGAN's transposed conv 128→64 costs what the discriminator's conv 64→128 costs (they are adjoint).
    assert.equal(LAYER_MACS.dcgan.generator[1], LAYER_MACS.dcgan.discriminator[1]);
  });
});

describe('parseTorchResult', () => {
  it('reads the last JSON line, ignoring warnings printed before it', () => {
    const out = 'UserWarning: something\n{"model": "dcgan", "threads": 2, "steps_per_second": 4.5, "steps": 45, "torch_version": "1.13.1"}\n';
    assert.deepEqual(parseTorchResult(out), { model: 'dcgan', threads: 2, stepsPerSecond: 4.5, steps: 45, torchVersion: '1.13.1' });
  });

  it('names the field that is wrong, and says when there is no result at all', () => {
    assert.throws(() => parseTorchResult('Traceback ...\n'), /printed no JSON result line/);
    assert.throws(() => parseTorchResult('{"model": "mlp", "threads": 1, "steps_per_second": null, "steps": 3}'), (e: Error) =>
      e instanceof TypeError && /'steps_per_second' must be a finite number, got null/.test(e.message));
    assert.throws(() => parseTorchResult('{"model": "vae", "threads": 1, "steps_per_second": 1, "steps": 3}'), RangeError);
  });
});

describe('formatStepTable / ratioToTorch', () => {
  const rows: StepRow[] = [
    { model: 'mlp', backend: 'wasm + ganforge kernels', threads: 1, stepsPerSecond: 10, steps: 100, ganforge: true },
    { model: 'mlp', backend: 'wasm + ganforge kernels', threads: 2, stepsPerSecond: 16, steps: 160, ganforge: true },
    { model: 'mlp', backend: 'wasm, stock kernels', threads: 1, stepsPerSecond: 30, steps: 300, ganforge: false },
    { model: 'mlp', backend: 'PyTorch 1.13', threads: 1, stepsPerSecond: 20, steps: 200, ganforge: false },
    { model: 'mlp', backend: 'PyTorch 1.13', threads: 2, stepsPerSecond: 8, steps: 80, ganforge: false },
  ];

  it('prints GFLOP/s from the analytic count and its share of the peak at the same thread count', () => {
    const table = formatStepTable(rows, 64, new Map([[1, 24]]));
    const lines = table.split('\n');
    assert.equal(lines.length, 2 + rows.length);
    // 1.199 GFLOP a step × 10 steps/s = 12.0 GFLOP/s = 50% of 24.
    assert.equal(lines[2], '| mlp | wasm + ganforge kernels | 1 | 10.00 | 12.0 | 50% | 100 |');
    assert.match(lines[3]!, /\| 2 \| 16\.00 \| 19\.2 \| – \| 160 \|$/);
  });

  it('divides the best ganforge row by the best PyTorch row, ignoring non-ganforge tfjs rows', () => {
    const r = ratioToTorch(rows, 'mlp');
    assert.ok(r !== null);
    assert.equal(r.ganforge.threads, 2);
    assert.equal(r.torch.threads, 1);
    assert.equal(r.ratio, 0.8);
    assert.equal(ratioToTorch(rows, 'dcgan'), null);
  });
});
