// The bundled model ships to every user: no string it carries may name the machine it was made on. Every string of
// models/default.onnx's ModelProto outside the graph's tensors (metadata_props keys and values, JSON strings inside
// them, doc strings, producer, graph and node names) is read with onnx-proto and checked for absolute paths and for
// this user's and host's names. Holds for whatever model is bundled, as long as it was exported with portable paths.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { hostname, userInfo } from 'node:os';
import { test } from 'node:test';
import onnxProto from 'onnx-proto';
import { portableCommand, portablePath } from '../../train/portable-paths.ts';

const { onnx } = onnxProto;
const MODEL = new URL('../../models/default.onnx', import.meta.url);

/** Every string in a JSON value, recursively (a manifest nests its training command). */
function jsonStrings(value: unknown): string[] {
  if (typeof value === 'string') return [value];
  if (Array.isArray(value)) return value.flatMap(jsonStrings);
  if (value !== null && typeof value === 'object') return Object.entries(value).flatMap(([k, v]) => [k, ...jsonStrings(v)]);
  return [];
}

/** A path-like token that is absolute on POSIX or Windows, or a file URL. */
const ABSOLUTE = /(^|[\s="'=:])(\/(?!\s|$)[^\s]*|[A-Za-z]:[\\/]|\\\\|file:\/\/)/;

type Text = string | null | undefined;
interface Named { name?: Text; docString?: Text }

function modelStrings(): string[] {
  const model = onnx.ModelProto.decode(readFileSync(MODEL));
  const strings: Text[] = [model.producerName, model.producerVersion, model.domain, model.docString];
  for (const { key, value } of model.metadataProps ?? []) {
    strings.push(key, value);
    try {
      strings.push(...jsonStrings(JSON.parse(value ?? '')));
    } catch {
      // not JSON: the value itself was pushed
    }
  }
  const graph = model.graph!;
  strings.push(graph.name, graph.docString);
  for (const node of graph.node ?? []) strings.push(node.name, node.docString, ...(node.input ?? []), ...(node.output ?? []));
  const named: Named[] = [...(graph.input ?? []), ...(graph.output ?? []), ...(graph.initializer ?? [])];
  for (const info of named) strings.push(info.name, info.docString);
  return strings.filter((s): s is string => typeof s === 'string' && s !== '');
}

test('the bundled model carries no absolute path, user name or host name', () => {
  const strings = modelStrings();
  assert.ok(strings.some((s) => s.startsWith('ganforge train ')), 'the training command was read');
  const names = [userInfo().username, hostname()].filter((n) => n.length >= 3);
  const offending = strings.filter((s) => ABSOLUTE.test(s) || /(^|[\\/])(home|Users)[\\/]/.test(s) || names.some((n) => new RegExp(`(^|[^A-Za-z0-9])${n.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}([^A-Za-z0-9]|$)`).test(s)));
  assert.deepEqual(offending, []);
});

test('the absolute-path check catches what it is for', () => {
  for (const bad of ['--out /work/main/runs/cgan', '/home/a/x', 'C:\\Users\\a', 'file:///tmp/x', '--dataset=/data/x']) assert.ok(ABSOLUTE.test(bad), bad);
  for (const good of ['ganforge train --out . --seed 1', 'runs/cgan', 'float32 [batch, 100]', 'NHWC, values in [-1, 1]', 'a / b']) assert.ok(!ABSOLUTE.test(good), good);
});

test('recorded paths: absolute ones relative to the run folder, relative ones as given', () => {
  const run = '/srv/ganforge/runs/cgan';
  assert.equal(portablePath('/srv/ganforge/runs/cgan', run), '.');
  assert.equal(portablePath('/srv/ganforge/data/train-images', run), '../../data/train-images');
  assert.equal(portablePath('data/train-images', run), 'data/train-images');
  assert.equal(portablePath('mnist', run), 'mnist');
  assert.equal(
    portableCommand(['ganforge', 'train', '--dataset', '/srv/ganforge/data/x', '--out', run, '--cache-dir=/srv/ganforge/runs/cgan/cache', '--seed', '1'], run),
    'ganforge train --dataset ../../data/x --out . --cache-dir=cache --seed 1',
  );
  // A relative path that would still climb through this user's folder keeps only its last segment.
  const user = userInfo().username;
  assert.equal(portablePath(`/home/${user}/data/x`, '/srv/runs/cgan'), '…/x');
});
