import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { WorkflowNotFoundError } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { JobClient } from '../src/client/client';
import { migrations } from '../activities/services/migrations';
import { openDatabase, type OpenDatabase } from '../src/db/database';
import { largeDataExport } from './jobs';
import { eventually } from './harness';
import { startJobctlWorker, type JobctlProcess } from './jobctl';

const { PENDING_ACTIVITY_STATE_STARTED } = temporal.api.enums.v1.PendingActivityState;
const { TIMEOUT_TYPE_START_TO_CLOSE } = temporal.api.enums.v1.TimeoutType;

/** The SDK's default worker identity, which `jobctl worker` keeps: what the server records as holding a task. */
const identityOf = (worker: JobctlProcess) => `${worker.child.pid}@${os.hostname()}`;

/** What the server said a worker held at the instant it was killed. */
interface KillReport {
  identity: string;
  /** The export's run was open with slices in flight. */
  exportUnfinished: boolean;
  /** exportSlice activities the worker had started and not finished: the slice's child workflow, and the attempt. */
  held: Array<{ workflowId: string; attempt: number }>;
}

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
  let workerEnv: NodeJS.ProcessEnv;

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'durable-jobs-faults-'));
    database = await openDatabase({ sqlitePath: path.join(dir, 'app.sqlite'), migrations });
    env = await TestWorkflowEnvironment.createFromExistingServer({ address: inject('temporalAddress') });
    client = new JobClient({ client: env.client, taskQueuePrefix: prefix });
    workerEnv = {
      TEMPORAL_ADDRESS: inject('temporalAddress'),
      JOBS_TASK_QUEUE_PREFIX: prefix,
      JOBS_SQLITE_PATH: path.join(dir, 'app.sqlite'),
    };
    workers.push(...(await Promise.all([1, 2, 3].map(() => startJobctlWorker('low:5', workerEnv)))));
  }, 90_000);

  /**
   * SIGKILLs `worker` and reports what the server says it held at that instant: the worker is frozen (SIGSTOP) while
   * the export's in-flight slices are described, so nothing it holds can finish in between. With `onlyIfHolding`, a
   * worker holding no slice is thawed and spared, and nothing is returned.
   */
  async function kill(
    worker: JobctlProcess,
    workflowId: string,
    onlyIfHolding: boolean,
  ): Promise<KillReport | undefined> {
    worker.child.kill('SIGSTOP');
    const identity = identityOf(worker);
    const parent = await env.client.workflow.getHandle(workflowId).describe();
    const children = parent.raw.pendingChildren ?? [];
    const held: KillReport['held'] = [];
    for (const child of children) {
      // A child the parent has initiated but the server has not started yet holds nothing.
      const description = await env.client.workflow
        .getHandle(child.workflowId!)
        .describe()
        .catch((err: unknown) => {
          if (err instanceof WorkflowNotFoundError) return undefined;
          throw err;
        });
      for (const a of description?.raw.pendingActivities ?? [])
        if (a.state === PENDING_ACTIVITY_STATE_STARTED && a.lastWorkerIdentity === identity)
          held.push({ workflowId: child.workflowId!, attempt: a.attempt! });
    }
    if (onlyIfHolding && held.length === 0) {
      worker.child.kill('SIGCONT');
      return undefined;
    }
    worker.child.kill('SIGKILL');
    await worker.exited;
    return { identity, exportUnfinished: parent.status.name === 'RUNNING' && children.length > 0, held };
  }

  /**
   * The kill happened mid-export with slices in the killed worker's hands, and each of those slices' activity then
   * timed out (start-to-close; the dead worker never answered) and its next attempt ran and completed on a survivor.
   */
  async function expectDiedHoldingSlicesRetriedElsewhere(report: KillReport, survivors: string[]): Promise<void> {
    expect(report.exportUnfinished, 'the export was unfinished when the worker died').toBe(true);
    expect(report.held, 'slices the killed worker held when it died').not.toEqual([]);
    for (const { workflowId, attempt } of report.held) {
      const events = (await env.client.workflow.getHandle(workflowId).fetchHistory()).events ?? [];
      const started = events.find((e) => e.activityTaskStartedEventAttributes)?.activityTaskStartedEventAttributes;
      const completed = events.find(
        (e) => e.activityTaskCompletedEventAttributes,
      )?.activityTaskCompletedEventAttributes;
      expect(
        {
          attempt: started?.attempt,
          lastFailure: started?.lastFailure?.timeoutFailureInfo?.timeoutType,
          startedOnSurvivor: survivors.includes(started?.identity ?? ''),
          completedOnSurvivor: survivors.includes(completed?.identity ?? ''),
        },
        `${workflowId}, held by ${report.identity} in attempt ${attempt}`,
      ).toEqual({
        attempt: attempt + 1,
        lastFailure: TIMEOUT_TYPE_START_TO_CLOSE,
        startedOnSurvivor: true,
        completedOnSurvivor: true,
      });
    }
  }

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
      .values({
        id: exportId,
        start_date: '2026-04-01',
        end_date: '2026-04-01',
        slice_size: 100, // 100 slices: a kill lands in the middle of some
        created_at: now,
        updated_at: now,
      })
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
    // Kill the first worker found holding a slice: one of three, in turn, frozen while the server is asked.
    let report: KillReport | undefined;
    let victim: JobctlProcess | undefined;
    for (let turn = 0; !report; turn++) {
      if (turn > 300) throw new Error('no worker was found holding a slice in 300 tries (did the export finish?)');
      victim = workers[turn % workers.length]!;
      report = await kill(victim, workflowId, true);
    }

    const result = await env.client.workflow.getHandle(workflowId).result();
    expect(victim!.child.signalCode).toBe('SIGKILL');
    await expectDiedHoldingSlicesRetriedElsewhere(report, workers.filter((w) => w !== victim).map(identityOf));
    expect(result).toMatchObject({ exportedUsers: 10_000, failedSlices: [] });
    console.log(
      `fault-tolerance: killed ${report.identity} holding ${report.held.map((h) => h.workflowId).join(', ')}`,
    );
    const parts = await database.db
      .selectFrom('export_slices')
      .select('content')
      .where('export_id', '=', exportId)
      .execute();
    const exported = parts.flatMap((p) =>
      p.content
        .split('\n')
        .filter(Boolean)
        .map((line: string) => Number(line.split(',')[0])),
    );
    expect(exported).toHaveLength(10_000);
    expect(new Set(exported)).toEqual(new Set(ids));
  }, 180_000);

  it('negative control: a worker killed after the export finished fails the killed-mid-slice check', async () => {
    const spare = await startJobctlWorker('low:5', workerEnv);
    workers.push(spare);
    const at = '2026-04-02T08:00:00.000Z';
    const rows = Array.from({ length: 500 }, (_, k) => ({
      id: 20_001 + k,
      email: `v${k}@example.com`,
      name: `V${k}`,
      created_at: at,
    }));
    await database.db.insertInto('users').values(rows).execute();
    const now = new Date().toISOString();
    const exportId = Math.floor(Math.random() * 1e9);
    await database.db
      .insertInto('exports')
      .values({
        id: exportId,
        start_date: '2026-04-02',
        end_date: '2026-04-02',
        slice_size: 100,
        created_at: now,
        updated_at: now,
      })
      .execute();
    const { workflowId } = await client.enqueue(largeDataExport, { exportId });
    expect(await env.client.workflow.getHandle(workflowId).result()).toMatchObject({ exportedUsers: 500 });

    const report = await kill(spare, workflowId, false);
    const survivors = workers.filter((w) => w !== spare && w.child.exitCode === null && !w.child.signalCode);
    await expect(expectDiedHoldingSlicesRetriedElsewhere(report!, survivors.map(identityOf))).rejects.toThrow(
      /the export was unfinished when the worker died/,
    );
    await expect(
      expectDiedHoldingSlicesRetriedElsewhere({ ...report!, exportUnfinished: true }, survivors.map(identityOf)),
    ).rejects.toThrow(/slices the killed worker held when it died/);
  }, 120_000);
});
