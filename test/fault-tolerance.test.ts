import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { JobClient } from '../src/client';
import { openDatabase, type OpenDatabase } from '../src/db/database';
import { largeDataExport } from '../workflows';
import { eventually } from './harness';
import { startJobctlWorker, type JobctlProcess } from './jobctl';

/**
 * Workers are separate processes sharing one Temporal server and one database, as in production. Killing one with
 * SIGKILL mid-export must lose nothing and duplicate nothing: its slices time out and run on the others.
 */
describe('worker processes', () => {
  let dir: string;
  let database: OpenDatabase;
  let env: TestWorkflowEnvironment;
  let client: JobClient;
  const workers: JobctlProcess[] = [];
  const prefix = `test-${randomUUID()}`;

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'durable-jobs-faults-'));
    database = await openDatabase({ sqlitePath: path.join(dir, 'app.sqlite') });
    env = await TestWorkflowEnvironment.createFromExistingServer({ address: inject('temporalAddress') });
    client = new JobClient({ client: env.client, taskQueuePrefix: prefix });
    const workerEnv = {
      TEMPORAL_ADDRESS: inject('temporalAddress'),
      JOBS_TASK_QUEUE_PREFIX: prefix,
      JOBS_SQLITE_PATH: path.join(dir, 'app.sqlite'),
    };
    workers.push(...(await Promise.all([1, 2, 3].map(() => startJobctlWorker('low:5', workerEnv)))));
  }, 90_000);

  afterAll(async () => {
    for (const w of workers) void w.stop('SIGKILL');
    await env?.teardown();
    await database?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('kill -9 of one of three workers in the middle of a 10,000-user export: every user exported exactly once', async () => {
    const ids: number[] = [];
    const at = '2026-04-01T08:00:00.000Z';
    for (let first = 1; first <= 10_000; first += 500) {
      const rows = Array.from({ length: 500 }, (_, k) => ({
        id: first + k,
        email: `u${first + k}@example.com`,
        name: `U${first + k}`,
        created_at: at,
      }));
      await database.db.insertInto('users').values(rows).execute();
      ids.push(...rows.map((r) => r.id));
    }
    const now = new Date().toISOString();
    const exportId = Math.floor(Math.random() * 1e9);
    await database.db
      .insertInto('exports')
      .values({ id: exportId, start_date: '2026-04-01', end_date: '2026-04-01', created_at: now, updated_at: now })
      .execute();

    const { workflowId } = await client.enqueue(largeDataExport, { exportId });
    await eventually(
      async () => {
        const p = await client.progress(workflowId).catch(() => undefined);
        return p && p.done >= 20 ? p : undefined;
      },
      60_000,
      'the export to be under way',
    );
    const victim = workers.find((w) => w.output().includes('"event":"activity_succeeded"')) ?? workers[0]!;
    victim.child.kill('SIGKILL');

    const result = await env.client.workflow.getHandle(workflowId).result();
    expect(victim.child.signalCode).toBe('SIGKILL');
    expect(result).toMatchObject({ exportedUsers: 10_000, failedSlices: [] });
    const parts = await database.db
      .selectFrom('export_slices')
      .select('content')
      .where('export_id', '=', exportId)
      .execute();
    const exported = parts.flatMap((p) =>
      p.content
        .split('\n')
        .filter(Boolean)
        .map((line) => Number(line.split(',')[0])),
    );
    expect(exported).toHaveLength(10_000);
    expect(new Set(exported)).toEqual(new Set(ids));
  }, 180_000);
});
