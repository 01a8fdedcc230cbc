import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { GANFORGE_VERSION } from '../../common/version.ts';

test('GANFORGE_VERSION matches package.json', () => {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  assert.equal(GANFORGE_VERSION, pkg.version);
});
