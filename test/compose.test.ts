import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseQueueSpec } from '../src/worker';
import { jobctl } from './jobctl';

/**
 * docker-compose.yml cannot run here (no Docker engine; CI checks its syntax with `docker-compose config`). These
 * checks keep it consistent with the code: every variable it sets is one the code reads, every command is a real
 * jobctl command, and every worker's queue list parses.
 */
const compose = fs.readFileSync(path.resolve(__dirname, '../docker-compose.yml'), 'utf8');
const config = fs.readFileSync(path.resolve(__dirname, '../src/config.ts'), 'utf8');

describe('docker-compose.yml', () => {
  it('sets only environment variables the code reads', () => {
    const block = compose.slice(compose.indexOf('environment: &app-env'), compose.indexOf('\nservices:'));
    const names = [...block.matchAll(/^\s{4}([A-Z_]+):/gm)].map((m) => m[1]!);
    expect(names.length).toBeGreaterThan(5);
    for (const name of names) expect(config, `${name} is not read by src/config.ts`).toContain(`env.${name}`);
  });

  it('runs only real jobctl commands, and workers with valid queue lists', async () => {
    const commands = [...compose.matchAll(/^\s+command: (\[.*\])$/gm)].map((m) => JSON.parse(m[1]!) as string[]);
    const ours = commands.filter((c) => ['worker', 'http', 'alerts', 'fake-vendor'].includes(c[0]!));
    expect(ours.length).toBeGreaterThanOrEqual(6);
    for (const args of ours) {
      const run = await jobctl([...args, '--help'], {}); // an unknown command fails; its help proves it exists
      if (args[0] === 'worker') expect(() => parseQueueSpec(args[args.indexOf('--queues') + 1])).not.toThrow();
      expect(run.code, `jobctl ${args.join(' ')}: ${run.stderr}`).toBe(0);
    }
  }, 60_000);
});
