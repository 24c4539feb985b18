import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Client } from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { DYNAMIC_CONFIG_FILE, readDynamicConfig } from '../../src/dev-server';
import { TEMPORAL_SERVICES } from '../../src/stack/server-config';
import { resolveTemporalCli } from '../../src/temporal-cli';
import { jobctl, spawnJobctl, type JobctlProcess } from '../jobctl';
import { alive, freeStackPorts, killStack, readPids, waitForOutput } from './stack-helpers';

/**
 * `jobctl stack` from scratch (issue 18, first Done-when line): PostgreSQL-backed Temporal services as separate
 * processes with the compose dynamic config; a job enqueued with jobctl completes on it (its effect lands in the
 * PostgreSQL app database); the Temporal CLI lists the run from outside; Ctrl-C leaves nothing running; a restart
 * keeps the run. Run with `npm run test:stack` (not part of `npm test`: a first run builds the server with Go).
 */

const run = promisify(execFile);
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'jobs-stack-'));
// PostgreSQL runs as the postgres user when the test runs as root: it must reach its data directory.
fs.chmodSync(dataDir, 0o755);
let stack: JobctlProcess | undefined;

afterAll(async () => {
  if (stack) await stack.stop('SIGKILL');
  // Whatever a failed test left behind, by the pids the stack recorded.
  killStack(dataDir);
  fs.rmSync(dataDir, { recursive: true, force: true });
});

function cmdline(pid: number): string[] {
  return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
}

describe('jobctl stack', () => {
  it(
    'runs Temporal on PostgreSQL as four processes with the compose dynamic config, runs a job, stops, restarts',
    async () => {
      const { port, postgresPort } = await freeStackPorts();
      const address = `127.0.0.1:${port}`;
      const args = ['stack', '--data-dir', dataDir, '--port', String(port), '--postgres-port', String(postgresPort)];
      stack = spawnJobctl([...args, '--workers', '1'], {}, { detached: true });
      // A cold machine builds the server with Go first (minutes).
      await waitForOutput(stack, 'stack is running', 15 * 60_000);
      expect(stack.output()).toContain('Creating a PostgreSQL cluster');

      // Four Temporal server processes, one per service, each with the rendered config.
      const pids = readPids(dataDir);
      const servicePids = TEMPORAL_SERVICES.map((s) => pids[s]!);
      expect(new Set(servicePids).size).toBe(4);
      for (const service of TEMPORAL_SERVICES) {
        const pid = pids[service]!;
        expect(alive(pid)).toBe(true);
        const argv = cmdline(pid);
        expect(path.basename(argv[0]!)).toBe('temporal-server');
        expect(argv.slice(-3)).toEqual(['start', '--service', service]);
      }
      expect(alive(pids.postgres!)).toBe(true);

      // The config they load: PostgreSQL stores, and the dynamic config file compose mounts.
      const config = parseYaml(fs.readFileSync(path.join(dataDir, 'config', 'stack.yaml'), 'utf8')) as {
        persistence: { datastores: Record<string, { sql: { pluginName: string; connectAddr: string } }> };
        dynamicConfigClient: { filepath: string };
      };
      expect(config.dynamicConfigClient.filepath).toBe(DYNAMIC_CONFIG_FILE);
      for (const store of Object.values(config.persistence.datastores)) {
        expect(store.sql).toMatchObject({ pluginName: 'postgres12', connectAddr: `127.0.0.1:${postgresPort}` });
      }
      // Each service read every value of that file: the server logs each key it loads.
      const keys = Object.keys(readDynamicConfig());
      expect(keys.length).toBeGreaterThan(0);
      for (const service of TEMPORAL_SERVICES) {
        const serviceLog = fs.readFileSync(path.join(dataDir, 'logs', `${service}.log`), 'utf8').toLowerCase();
        for (const key of keys)
          expect(serviceLog).toContain(`dynamic config changed for the key: ${key.toLowerCase()}`);
      }

      // A job enqueued with jobctl completes; its effect is in the PostgreSQL app database.
      const databaseUrl = `postgres://temporal:temporal@127.0.0.1:${postgresPort}/jobs`;
      const env = { TEMPORAL_ADDRESS: address, DATABASE_URL: databaseUrl };
      const enqueued = await jobctl(['enqueue', 'invoice-generation', '{"invoiceId":42}', '--wait', '--json'], env);
      expect(enqueued.code, enqueued.stderr).toBe(0);
      expect(JSON.parse(enqueued.stdout)).toMatchObject({ workflowId: 'invoice-generation/42', status: 'Completed' });
      const pg = new Client({ connectionString: databaseUrl });
      await pg.connect();
      try {
        const { rows } = await pg.query('SELECT generated_at FROM invoices WHERE id = 42');
        expect(rows[0]?.generated_at).toBeTruthy();
      } finally {
        await pg.end();
      }

      // The Temporal CLI lists the run from outside (SQL visibility on PostgreSQL), found by its JobName.
      const cli = (await resolveTemporalCli({ build: false }))!.path;
      const listRuns = async () => {
        const { stdout } = await run(cli, [
          'workflow',
          'list',
          '--address',
          address,
          '--namespace',
          'default',
          '--query',
          // By the JobName search attribute the stack registered (SQL visibility keeps custom attributes too).
          "JobName = 'invoice-generation' AND WorkflowId = 'invoice-generation/42'",
          '--output',
          'json',
        ]);
        return JSON.parse(stdout || '[]') as Array<{ execution: { workflowId: string }; status: string }>;
      };
      let runs = await listRuns();
      for (let i = 0; i < 30 && !runs.some((r) => r.status.includes('COMPLETED')); i++) {
        await new Promise((r) => setTimeout(r, 1000));
        runs = await listRuns();
      }
      expect(runs).toEqual([
        expect.objectContaining({
          execution: expect.objectContaining({ workflowId: 'invoice-generation/42' }),
          status: expect.stringContaining('COMPLETED'),
        }),
      ]);

      // Ctrl-C stops everything: no process of the stack is left.
      const allPids = Object.values(pids);
      stack.child.kill('SIGINT');
      expect(await stack.exited).toBe(0);
      expect(stack.output()).toContain('jobctl stack: stopped.');
      expect(allPids.filter(alive)).toEqual([]);
      expect(fs.existsSync(path.join(dataDir, 'pids.json'))).toBe(false);

      // A restart reuses the cluster and the databases: the run is still there.
      stack = spawnJobctl([...args, '--no-workers'], {}, { detached: true });
      await waitForOutput(stack, 'stack is running', 5 * 60_000);
      expect(stack.output()).not.toContain('Creating a PostgreSQL cluster');
      expect(stack.output()).not.toContain('Setting up the');
      expect((await listRuns()).map((r) => r.execution.workflowId)).toEqual(['invoice-generation/42']);
      const restartedPids = Object.values(readPids(dataDir));
      stack.child.kill('SIGINT');
      expect(await stack.exited).toBe(0);
      expect(restartedPids.filter(alive)).toEqual([]);
      stack = undefined;
    },
    30 * 60_000,
  );
});
