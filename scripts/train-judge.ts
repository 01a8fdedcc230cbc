// Rebuilds the bundled MNIST judge (eval/judge/) that `ganforge eval` scores generators with. Run only on purpose:
// a new judge changes every published quality figure. Usage: npx tsx scripts/train-judge.ts [--epochs 3] [--seed 1]
import { parseArgs } from 'node:util';
import { describeBackend, selectBackend } from '../train/backend.ts';
import { BUNDLED_JUDGE_DIR, loadOrTrainClassifier } from '../eval/classifier.ts';

const { values } = parseArgs({ options: { epochs: { type: 'string', default: '3' }, seed: { type: 'string', default: '1' } } });
console.error(describeBackend(await selectBackend()));
const judge = await loadOrTrainClassifier({ dir: BUNDLED_JUDGE_DIR, retrain: true, epochs: Number(values.epochs), seed: Number(values.seed), log: (line) => console.error(line) });
console.log(`judge written to ${judge.dir}: MNIST test accuracy ${(judge.testAccuracy * 100).toFixed(2)}%`);
