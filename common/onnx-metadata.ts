// Reads an ONNX ModelProto's metadata_props straight from the protobuf bytes, in the browser as in Node. No runtime
// API exposes metadata_props (onnxruntime-node and -web give only input/output metadata), and pulling protobufjs into
// the page for one map would cost more than this minimal wire-format walk.

import { GanforgeError } from './errors.ts';
import { MANIFEST_KEY, parseManifest, type ModelManifest } from './manifest.ts';

const MODEL_METADATA_PROPS_FIELD = 14; // ModelProto.metadata_props (repeated StringStringEntryProto)
const ENTRY_KEY_FIELD = 1;
const ENTRY_VALUE_FIELD = 2;

/** All metadata_props of a serialized ModelProto, in file order (later duplicates win). */
export function readOnnxMetadata(bytes: Uint8Array): Map<string, string> {
  const props = new Map<string, string>();
  for (const field of protobufFields(bytes, 0, bytes.length)) {
    if (field.number !== MODEL_METADATA_PROPS_FIELD || field.bytes === null) continue;
    let key = '';
    let value = '';
    for (const entry of protobufFields(bytes, field.bytes[0], field.bytes[1])) {
      if (entry.bytes === null) continue;
      const text = utf8.decode(bytes.subarray(entry.bytes[0], entry.bytes[1]));
      if (entry.number === ENTRY_KEY_FIELD) key = text;
      else if (entry.number === ENTRY_VALUE_FIELD) value = text;
    }
    props.set(key, value);
  }
  return props;
}

/** The ganforge manifest stored in a model's metadata; INVALID_MODEL when it is absent or malformed. */
export function readManifest(bytes: Uint8Array, source: string): ModelManifest {
  let json: string | undefined;
  try {
    json = readOnnxMetadata(bytes).get(MANIFEST_KEY);
  } catch (cause) {
    throw new GanforgeError('INVALID_MODEL', `${source}: not a readable ONNX model (${(cause as Error).message})`, { cause });
  }
  if (json === undefined) {
    throw new GanforgeError('INVALID_MODEL', `${source}: no '${MANIFEST_KEY}' metadata; export the generator with 'ganforge export'`);
  }
  return parseManifest(json, source);
}

const utf8 = new TextDecoder('utf-8');

interface WireField {
  number: number;
  /** [start, end) of a length-delimited payload, else null. */
  bytes: [number, number] | null;
}

/** Iterates the top-level fields of a protobuf message in bytes[start, end); throws on truncated or invalid wire data. */
function* protobufFields(bytes: Uint8Array, start: number, end: number): Generator<WireField> {
  let pos = start;
  const varint = (): number => {
    let result = 0;
    let scale = 1;
    for (let i = 0; i < 10; i++) {
      if (pos >= end) throw new Error('truncated varint');
      const b = bytes[pos++]!;
      result += (b & 0x7f) * scale;
      if ((b & 0x80) === 0) return result;
      scale *= 128;
    }
    throw new Error('varint longer than 10 bytes');
  };
  while (pos < end) {
    const tag = varint();
    const wireType = tag % 8;
    const number = Math.floor(tag / 8);
    if (number === 0) throw new Error('field number 0');
    switch (wireType) {
      case 0: varint(); yield { number, bytes: null }; break;
      case 1: pos += 8; yield { number, bytes: null }; break;
      case 5: pos += 4; yield { number, bytes: null }; break;
      case 2: {
        const length = varint();
        if (pos + length > end) throw new Error('length-delimited field runs past the end');
        yield { number, bytes: [pos, pos + length] };
        pos += length;
        break;
      }
      default: throw new Error(`unsupported wire type ${wireType}`);
    }
    if (pos > end) throw new Error('field runs past the end');
  }
}
