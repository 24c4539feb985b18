import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from 'commander';
import { parseDynamicConfigValue } from '../src/cli/parsers';
import { DYNAMIC_CONFIG_FILE, readDynamicConfig, writeDynamicConfig } from '../src/dev-server';

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

  it('`jobctl stack --dynamic-config-value`: the file the services read is the compose values with the overrides', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dynamic-config-'));
    const overrides = [
      'matching.longPollExpirationInterval=2s',
      'history.transferProcessorMaxPollRPS=50',
      'matching.enableFairness=null',
      'frontend.enableUpdateWorkflowExecution=true',
    ].reduce((acc, entry) => parseDynamicConfigValue(entry, acc), {} as Record<string, unknown>);
    expect(overrides).toEqual({
      'matching.longPollExpirationInterval': '2s',
      'history.transferProcessorMaxPollRPS': 50,
      'matching.enableFairness': null,
      'frontend.enableUpdateWorkflowExecution': true,
    });
    const file = writeDynamicConfig(path.join(dir, 'dynamicconfig.yaml'), overrides);
    const { 'matching.enableFairness': removed, ...compose } = readDynamicConfig();
    expect(removed).toBe(true);
    expect(readDynamicConfig(file)).toEqual({
      ...compose,
      'matching.longPollExpirationInterval': '2s',
      'history.transferProcessorMaxPollRPS': 50,
      'frontend.enableUpdateWorkflowExecution': true,
    });
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('`--dynamic-config-value` refuses an entry without a key, naming it', () => {
    for (const entry of ['2s', '=2s', 'not a key=1', '.x=1'])
      expect(() => parseDynamicConfigValue(entry), entry).toThrow(
        new InvalidArgumentError(
          `expected key=value with a dynamic config key (e.g. matching.longPollExpirationInterval=10s), got "${entry}"`,
        ),
      );
  });
});
