// ganforge's version, as a constant so that every side (CLI, server, exporter, browser) can report it without reading
// package.json from disk; test/common/version.test.ts keeps it equal to package.json's.
export const GANFORGE_VERSION = '0.1.0';
