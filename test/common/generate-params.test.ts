import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseGenerateParams, parseOutputFormat } from '../../common/generate-params.ts';
import { InvalidParameterError } from '../../common/errors.ts';
import { MANIFEST_FORMAT, type ModelManifest } from '../../common/manifest.ts';

const base: ModelManifest = {
  format: MANIFEST_FORMAT, family: 'mlp', latentDim: 8, classes: null, imageShape: [4, 4, 1], valueRange: [-1, 1],
  inputs: { latent: 'z', label: null }, output: 'image', truncationModes: ['psi', 'resample'],
  training: { dataset: 'mnist', steps: 1, epochs: 1, batchSize: 1, seed: 1, backend: 'cpu', loss: 'non-saturating' }, ganforgeVersion: '0.1.0',
};
const conditional: ModelManifest = { ...base, family: 'cgan', classes: ['zero', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine'], inputs: { latent: 'z', label: 'label' } };
const limits = { maxImages: 64 };
const parse = (raw: Record<string, unknown>, manifest = base) => parseGenerateParams(raw, manifest, limits, () => 123);

function rejects(raw: Record<string, unknown>, parameter: string, pattern: RegExp, manifest = base): void {
  assert.throws(() => parse(raw, manifest), (e: unknown) => {
    assert.ok(e instanceof InvalidParameterError, `expected InvalidParameterError, got ${String(e)}`);
    assert.equal(e.code, 'INVALID_PARAMETER');
    assert.equal(e.parameter, parameter);
    assert.match(e.message, pattern);
    return true;
  });
}

describe('parseGenerateParams', () => {
  it('applies defaults: one image, drawn seed, no truncation', () => {
    assert.deepEqual(parse({}), { n: 1, seed: 123, labels: null, truncation: 1, truncationMode: 'psi', mix: null });
  });
  it('parses strings from a query string', () => {
    assert.deepEqual(parse({ n: '16', seed: '42', truncation: '0.7', truncationMode: 'resample' }), { n: 16, seed: 42, labels: null, truncation: 0.7, truncationMode: 'resample', mix: null });
  });
  it('rejects bad n with the allowed range', () => {
    for (const n of ['0', '65', 'abc', '1.5', '1e3', '', '-1', ' ']) rejects({ n }, 'n', /'n' must be an integer in \[1, 64\]/);
    rejects({ n: ['1', '2'] }, 'n', /given 2 times/);
  });
  it('rejects malformed seeds', () => {
    for (const seed of ['-1', '4294967296', '0x10', 'abc', '1.5']) rejects({ seed }, 'seed', /'seed' must be an integer in \[0, 4294967295\]/);
    assert.equal(parse({ seed: '4294967295' }).seed, 4294967295);
  });
  it('refuses a class for an unconditional model', () => {
    rejects({ class: '7' }, 'class', /unconditional/);
  });
  it('accepts a class index or name for a conditional model, else cycles classes', () => {
    assert.deepEqual(parse({ class: '7', n: '3' }, conditional).labels, [7, 7, 7]);
    assert.deepEqual(parse({ class: 'Seven', n: '2' }, conditional).labels, [7, 7]);
    assert.deepEqual(parse({ n: '12' }, conditional).labels, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1]);
    for (const c of ['10', '-1', 'eleven', '7.5', '']) rejects({ class: c }, 'class', /integer in \[0, 9\] or a name \(zero, one/, conditional);
  });
  it('rejects truncation modes the model does not list', () => {
    rejects({ truncationMode: 'stylegan' }, 'truncationMode', /one of psi, resample/);
    rejects({ truncationMode: 'resample' }, 'truncationMode', /supports truncationMode psi/, { ...base, truncationModes: ['psi'] });
  });
  it('names the format choices', () => {
    assert.equal(parseOutputFormat('npy'), 'npy');
    assert.throws(() => parseOutputFormat('gif'), /'format' must be one of png, json, npy, got "gif"/);
  });
});
