// The layout's one-way rules, checked on the sources: no import cycle anywhere (type-only imports included: a cycle
// of types is still two files that cannot be understood apart), nothing outside serve/ imports serve/ except its
// callers (the CLI, the benchmarks, the tests), common/ stays isomorphic (no node: modules, no runtime packages), and
// onnxruntime-node is imported by runtime/ort-node.ts alone.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const FOLDERS = ['common', 'runtime', 'train', 'export', 'eval', 'serve', 'web/src', 'cli', 'bench', 'scripts', 'test'];
/** Folders whose code may import serve/: its entry point and the code that exercises it. */
const SERVE_CALLERS = ['cli', 'bench', 'test'];

function sources(dir: string): string[] {
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return [];
  }
  return entries.sort().flatMap((entry) => {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) return entry === 'node_modules' || entry === 'dist' || entry === 'fixtures' ? [] : sources(path);
    return /\.(ts|mts)$/.test(entry) && !entry.endsWith('.d.ts') ? [path] : [];
  });
}

/** Every module specifier a file imports or re-exports, static or dynamic (string literals only). */
export function importSpecifiers(text: string): string[] {
  const code = text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');
  const found: string[] = [];
  for (const match of code.matchAll(/(?:^|[\s;])(?:import|export)\s+(?:type\s+)?(?:[\w*{}\s,$]+?\s+from\s+)?['"]([^'"]+)['"]/g)) found.push(match[1]!);
  for (const match of code.matchAll(/\bimport\(\s*['"]([^'"]+)['"]\s*\)/g)) found.push(match[1]!);
  return found;
}

const files = FOLDERS.flatMap((folder) => sources(join(ROOT, folder)));
const rel = (path: string) => relative(ROOT, path).split(sep).join('/');
/** File (relative) → the files it imports (relative), and → package specifiers. */
const graph = new Map<string, string[]>();
const packages = new Map<string, string[]>();
for (const file of files) {
  const specifiers = importSpecifiers(readFileSync(file, 'utf8'));
  graph.set(rel(file), specifiers.filter((s) => s.startsWith('.')).map((s) => rel(resolve(dirname(file), s))));
  packages.set(rel(file), specifiers.filter((s) => !s.startsWith('.')));
}

/** Every cycle, each as the path that closes it (Tarjan's strongly connected components, then one path per component). */
export function findCycles(edges: ReadonlyMap<string, readonly string[]>): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const components: string[][] = [];
  let next = 0;
  const visit = (node: string) => {
    index.set(node, next);
    low.set(node, next++);
    stack.push(node);
    onStack.add(node);
    for (const to of edges.get(node) ?? []) {
      if (!edges.has(to)) continue;
      if (!index.has(to)) {
        visit(to);
        low.set(node, Math.min(low.get(node)!, low.get(to)!));
      } else if (onStack.has(to)) {
        low.set(node, Math.min(low.get(node)!, index.get(to)!));
      }
    }
    if (low.get(node) === index.get(node)) {
      const component: string[] = [];
      let member: string;
      do {
        member = stack.pop()!;
        onStack.delete(member);
        component.push(member);
      } while (member !== node);
      if (component.length > 1 || (edges.get(node) ?? []).includes(node)) components.push(component.sort());
    }
  };
  for (const node of [...edges.keys()].sort()) if (!index.has(node)) visit(node);
  return components;
}

test('the import scan finds static, type-only, re-exported and dynamic imports, and a cycle among them', () => {
  const text = "import a from './a.ts';\nimport type { B } from \"./b.ts\";\nexport { c } from './c.ts';\n// import z from './commented.ts';\nconst d = await import('./d.ts');\nimport './e.ts';";
  assert.deepEqual(importSpecifiers(text), ['./a.ts', './b.ts', './c.ts', './e.ts', './d.ts']);
  assert.deepEqual(findCycles(new Map([['x', ['y']], ['y', ['z']], ['z', ['x']], ['w', ['x']]])), [['x', 'y', 'z']]);
  assert.deepEqual(findCycles(new Map([['x', ['y']], ['y', []]])), []);
});

test('the sources were found', () => {
  for (const file of ['serve/inference-pool.ts', 'runtime/ort-node.ts', 'common/errors.ts', 'cli/serve.ts']) assert.ok(graph.has(file), file);
});

test('no import cycle anywhere', () => {
  assert.deepEqual(findCycles(graph), []);
});

test('nothing outside serve/ imports serve/, except the CLI, the benchmarks and the tests', () => {
  const offenders = [...graph].flatMap(([file, imports]) =>
    file.startsWith('serve/') || SERVE_CALLERS.some((caller) => file.startsWith(`${caller}/`)) ? [] : imports.filter((i) => i.startsWith('serve/')).map((i) => `${file} → ${i}`));
  assert.deepEqual(offenders, []);
});

test('common/ stays isomorphic and onnxruntime-node has one importer', () => {
  const isomorphicOffenders = [...packages].flatMap(([file, specifiers]) =>
    file.startsWith('common/') ? specifiers.filter((s) => s.startsWith('node:') || /^(onnxruntime-|@tensorflow\/|express$|fs$|path$)/.test(s)).map((s) => `${file} → ${s}`) : []);
  assert.deepEqual(isomorphicOffenders, []);
  const ortImporters = [...packages].filter(([, specifiers]) => specifiers.includes('onnxruntime-node')).map(([file]) => file);
  assert.deepEqual(ortImporters, ['runtime/ort-node.ts']);
});
