import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { DYNAMIC_CONFIG_FILE, readDynamicConfig } from '../src/dev-server';

/** One dynamic config for every server: docker/dynamicconfig.yaml, mounted by compose, passed to every dev server. */
describe('dynamic config', () => {
  it('is read from the file compose mounts', () => {
    const compose = fs.readFileSync(path.resolve(__dirname, '../docker-compose.yml'), 'utf8');
    expect(compose).toContain(`./${path.relative(path.resolve(__dirname, '..'), DYNAMIC_CONFIG_FILE)}:`);
    expect(readDynamicConfig()).toMatchObject({ 'matching.useNewMatcher': true, 'matching.enableFairness': true });
  });

  it('refuses what a dev server cannot take: constraints, several values, no value', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dynamic-config-'));
    const write = (text: string) => {
      const file = path.join(dir, 'dc.yaml');
      fs.writeFileSync(file, text);
      return file;
    };
    expect(readDynamicConfig(write('a.b:\n  - value: 3\nc.d:\n  - value: "x"\n'))).toEqual({ 'a.b': 3, 'c.d': 'x' });
    for (const text of [
      'a.b:\n  - value: 1\n    constraints:\n      namespace: x\n',
      'a.b:\n  - value: 1\n  - value: 2\n',
      'a.b:\n  - other: 1\n',
      'a.b: 1\n',
    ])
      expect(() => readDynamicConfig(write(text)), text).toThrow(/"a\.b" must be one global value/);
    fs.rmSync(dir, { recursive: true, force: true });
  });
});
