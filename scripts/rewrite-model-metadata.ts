// One-off repair of an exported model's recorded training paths (issue 14): models exported before
// train/portable-paths.ts recorded `--out /abs/…/runs/cgan` in the manifest. This rewrites only the manifest entry of
// metadata_props (the top-level ModelProto field 14) and copies every other byte of the file as it is, so the graph and
// its weights stay byte for byte what was exported and verified; the `<name>.json` beside it gets the same manifest
// and the new size.
//
//   node --import tsx scripts/rewrite-model-metadata.ts models/default.onnx /work/main/runs/cgan
//                                                        model               the run folder it was trained in

import { readFileSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import onnxProto from 'onnx-proto';
import { MANIFEST_KEY } from '../common/manifest.ts';
import { portableCommand, portablePath } from '../train/portable-paths.ts';

const { onnx } = onnxProto;
const METADATA_PROPS_FIELD = 14;

function readVarint(bytes: Uint8Array, at: number): [value: number, next: number] {
  let value = 0;
  let shift = 0;
  for (;;) {
    const byte = bytes[at++]!;
    value += (byte & 0x7f) * 2 ** shift;
    if (byte < 0x80) return [value, at];
    shift += 7;
  }
}

function writeVarint(value: number): number[] {
  const out: number[] = [];
  while (value >= 0x80) {
    out.push((value % 0x80) | 0x80);
    value = Math.floor(value / 0x80);
  }
  out.push(value);
  return out;
}

/** The file with `rewrite` applied to each metadata_props entry; every other top-level field is copied as bytes. */
export function rewriteMetadata(bytes: Uint8Array, rewrite: (key: string, value: string) => string): Uint8Array {
  const parts: Uint8Array[] = [];
  for (let at = 0; at < bytes.length;) {
    const start = at;
    const [tag, afterTag] = readVarint(bytes, at);
    const wire = tag & 7;
    let end: number;
    if (wire === 0) end = readVarint(bytes, afterTag)[1];
    else if (wire === 1) end = afterTag + 8;
    else if (wire === 5) end = afterTag + 4;
    else if (wire === 2) {
      const [length, body] = readVarint(bytes, afterTag);
      end = body + length;
      if (tag >>> 3 === METADATA_PROPS_FIELD) {
        const entry = onnx.StringStringEntryProto.decode(bytes.subarray(body, end));
        const encoded = onnx.StringStringEntryProto.encode({ key: entry.key, value: rewrite(entry.key, entry.value) }).finish();
        parts.push(Uint8Array.from([...writeVarint(tag), ...writeVarint(encoded.length)]), encoded);
        at = end;
        continue;
      }
    } else throw new Error(`unexpected wire type ${wire} at byte ${start}`);
    parts.push(bytes.subarray(start, end));
    at = end;
  }
  return Buffer.concat(parts);
}

interface Training { command: string; dataset: string }

function portableTraining<T extends { training: Training | null }>(manifest: T, runDir: string): T {
  if (manifest.training === null) return manifest;
  const { command, dataset } = manifest.training;
  return { ...manifest, training: { ...manifest.training, command: portableCommand(command.split(' '), runDir), dataset: portablePath(dataset, runDir) } };
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === resolve(import.meta.filename)) {
  const [modelPath, runDir] = process.argv.slice(2);
  if (modelPath === undefined || runDir === undefined) {
    console.error('usage: rewrite-model-metadata.ts <model.onnx> <run folder it was trained in>');
    process.exit(2);
  }
  const before = new Uint8Array(readFileSync(modelPath));
  const after = rewriteMetadata(before, (key, value) => (key === MANIFEST_KEY ? JSON.stringify(portableTraining(JSON.parse(value) as { training: Training | null }, resolve(runDir))) : value));
  writeFileSync(modelPath, after);
  const jsonPath = join(dirname(modelPath), `${basename(modelPath, '.onnx')}.json`);
  const sidecar = JSON.parse(readFileSync(jsonPath, 'utf8')) as { bytes: number; manifest: { training: Training | null } };
  sidecar.bytes = after.length;
  sidecar.manifest = portableTraining(sidecar.manifest, resolve(runDir));
  writeFileSync(jsonPath, `${JSON.stringify(sidecar, null, 2)}\n`);
  console.log(`${modelPath}: ${before.length} → ${after.length} bytes; ${jsonPath} updated`);
}
