import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client as TemporalClient, Connection } from '@temporalio/client';
import type { temporal } from '@temporalio/proto';
import { Client as PgClient } from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JobClient } from '../../src/client/client';
import { readSettings } from '../../src/config';
import { buildIdOf, bundleWorkflows } from '../../src/worker/workers';
// Declares the test application's jobs in this process, for the client below.
import '../jobs';
import { jobctl, spawnJobctl, type JobctlProcess } from '../jobctl';
import { freeStackPorts, killStack, waitForOutput } from './stack-helpers';

/**
 * Shipping changed job code on `jobctl stack` (issue 25, Done when): build A runs as the current version; a
 * 20,000-user export, pinned runs and delayed jobs are in flight; build B — whose export workflow verifies every slice
 * before finalizing, behind `patched()` — is ramped to 50 % and made current. Pinned runs that started on A finish on A
 * (every workflow task of theirs completed by A), new runs start on B, the auto-upgrading export moves to B and
 * completes through its patched branch; A drains, its workers stop. `jobctl replay` with B's bundle passes over the
 * server's histories and, with the patched() call removed, fails naming the run and event. `jobctl deploy rollback`
 * sends new runs back to A. Every job completes once, every effect once.
 */

const ROOT = path.resolve(__dirname, '../..');
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'jobs-versioning-'));
const dataDir = path.join(work, 'stack');
fs.mkdirSync(dataDir);
// PostgreSQL runs as the postgres user when the test runs as root: it must reach its data directory.
fs.chmodSync(work, 0o755);
fs.chmodSync(dataDir, 0o755);
const processes: JobctlProcess[] = [];
let temporalClient: TemporalClient | undefined;
let connection: Connection | undefined;
let pg: PgClient | undefined;
let jobClient: JobClient | undefined;

afterAll(async () => {
  await Promise.all(processes.map((p) => p.stop('SIGKILL')));
  await connection?.close();
  await jobClient?.close();
  await pg?.end();
  killStack(dataDir);
  fs.rmSync(work, { recursive: true, force: true });
});

/** The export workflow's file as build A had it: no verification step (the patched block removed). */
const EXPORT_FILE = 'large-data-export.ts';
const PATCHED_CALL = 'patched(EXPORT_VERIFICATION_PATCH)';

/**
 * A build of the test application's workflows: the example's workflow files (the export's edited by `edit`) and the
 * test jobs, bundled as a worker would bundle them. Returns the bundle file and its build ID.
 */
async function build(name: string, edit: (source: string) => string): Promise<{ file: string; buildId: string }> {
  const dir = path.join(work, 'builds', name);
  fs.mkdirSync(path.join(dir, 'workflows'), { recursive: true });
  for (const file of fs.readdirSync(path.join(ROOT, 'workflows'))) {
    const source = fs.readFileSync(path.join(ROOT, 'workflows', file), 'utf8');
    const edited = file === EXPORT_FILE ? edit(source) : source;
    if (file === EXPORT_FILE && name !== 'b') expect(edited, `${name}: the edit changed nothing`).not.toBe(source);
    fs.writeFileSync(path.join(dir, 'workflows', file), edited);
  }
  // The test jobs' workflows as test/jobs/index.ts exports them (every one: the worker refuses a bundle that lacks one).
  const testJobs = path.join(ROOT, 'test/jobs');
  const testWorkflows = fs.readdirSync(testJobs).filter((f) => f.endsWith('-workflow.ts'));
  fs.writeFileSync(
    path.join(dir, 'index.ts'),
    [
      "export * from './workflows';",
      ...testWorkflows.map((f) => `export * from ${JSON.stringify(path.join(testJobs, f.replace(/\.ts$/, '')))};`),
    ].join('\n'),
  );
  const bundle = await bundleWorkflows({ workflowsPath: path.join(dir, 'index.ts') });
  const file = path.join(work, 'builds', `${name}.js`);
  fs.writeFileSync(file, bundle.code);
  return { file, buildId: buildIdOf(bundle) };
}

/** Build A: the verification step is not there yet. */
const removeVerification = (source: string) =>
  source.replace(
    /const verified = patched\(EXPORT_VERIFICATION_PATCH\)[\s\S]*?: undefined;/,
    'const verified = undefined;',
  );
/** Build B with its patched() call removed: the new step runs in every run, also one replayed from A's history. */
const removePatchedCall = (source: string) => source.replace(PATCHED_CALL, 'true');

let env: Record<string, string>;
let builds: Record<'a' | 'b' | 'bUnpatched', { file: string; buildId: string }>;

function startWorker(buildFile: string): JobctlProcess {
  const worker = spawnJobctl(['worker', '--queues', 'critical:4', 'high:4', 'default:10', 'low:20'], {
    ...env,
    JOBS_WORKFLOW_BUNDLE: buildFile,
  });
  processes.push(worker);
  return worker;
}

async function run(args: string[]) {
  const result = await jobctl(args, env);
  expect(result.code, `jobctl ${args.join(' ')}\n${result.stderr}`).toBe(0);
  return result;
}

interface DeployStatus {
  current?: string;
  ramping?: { buildId: string; percentage: number };
  versions: Array<{ buildId: string; routing: string; pollers: string[]; openPinnedRuns: number }>;
}

async function deployStatus(): Promise<DeployStatus> {
  return JSON.parse((await run(['deploy', 'status', '--json'])).stdout) as DeployStatus;
}

async function enqueue(job: string, args: object, ...options: string[]): Promise<string> {
  const { stdout } = await run(['enqueue', job, JSON.stringify(args), '--json', ...options]);
  return (JSON.parse(stdout) as { workflowId: string }).workflowId;
}

type HistoryEvent = temporal.api.history.v1.IHistoryEvent;

/** Every run of a workflow ID (a continue-as-new chain), oldest first, with its history. */
async function runsOf(workflowId: string): Promise<Array<{ runId: string; events: HistoryEvent[] }>> {
  const runs: Array<{ runId: string; start: number }> = [];
  for await (const r of temporalClient!.workflow.list({ query: `WorkflowId = '${workflowId}'` }))
    runs.push({ runId: r.runId, start: r.startTime.getTime() });
  runs.sort((a, b) => a.start - b.start);
  return Promise.all(
    runs.map(async ({ runId }) => ({
      runId,
      events: (await temporalClient!.workflow.getHandle(workflowId, runId).fetchHistory()).events ?? [],
    })),
  );
}

/** The build ID that completed each workflow task of a history, in order. */
const taskBuilds = (events: HistoryEvent[]) =>
  events
    .filter((e) => e.workflowTaskCompletedEventAttributes)
    .map((e) => e.workflowTaskCompletedEventAttributes!.deploymentVersion?.buildId ?? 'unversioned');

/** Enqueues a noop run through the client and waits for it; its workflow ID. */
async function noop(id: string): Promise<string> {
  const { workflowId } = await jobClient!.enqueueByName('noop', { id });
  await temporalClient!.workflow.getHandle(workflowId).result();
  return workflowId;
}

async function waitForStatus(workflowId: string, status: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { stdout } = await run(['status', workflowId, '--json']);
    const current = (JSON.parse(stdout) as { status: string }).status;
    if (current === status) return;
    if (current !== 'Running' && current !== 'Scheduled')
      throw new Error(`${workflowId} is ${current}, expected ${status}`);
    if (Date.now() > deadline) throw new Error(`${workflowId} still ${current} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 1000));
  }
}

describe('Worker Versioning on jobctl stack', () => {
  beforeAll(async () => {
    const { port, postgresPort } = await freeStackPorts();
    const stack = spawnJobctl(
      ['stack', '--data-dir', dataDir, '--port', String(port), '--postgres-port', String(postgresPort), '--no-workers'],
      {},
      { detached: true },
    );
    processes.push(stack);
    const bundles = Promise.all([
      build('a', removeVerification),
      build('b', (s) => s),
      build('b-unpatched', removePatchedCall),
    ]);
    await waitForOutput(stack, 'stack is running', 15 * 60_000);
    const [a, b, bUnpatched] = await bundles;
    builds = { a: a!, b: b!, bUnpatched: bUnpatched! };
    const databaseUrl = `postgres://temporal:temporal@127.0.0.1:${postgresPort}/jobs`;
    env = {
      TEMPORAL_ADDRESS: `127.0.0.1:${port}`,
      DATABASE_URL: databaseUrl,
      JOBS_MAIL_OUTBOX_DIR: path.join(work, 'outbox'),
      JOBS_WORKER_VERSIONING: 'on',
      JOBS_DEPLOYMENT_NAME: 'jobs',
    };
    connection = await Connection.connect({ address: env.TEMPORAL_ADDRESS });
    temporalClient = new TemporalClient({ connection });
    pg = new PgClient({ connectionString: databaseUrl });
    jobClient = await JobClient.connect(readSettings({ ...process.env, ...env }));
  }, 20 * 60_000);

  it(
    'pins short runs to their version, moves the export to the new one through patched(), drains, replays, rolls back',
    async () => {
      const { a, b, bUnpatched } = builds;
      expect(new Set([a.buildId, b.buildId, bUnpatched.buildId]).size).toBe(3);

      // Build A's workers; the first one migrates the app database. A becomes current once they poll.
      const workerA = startWorker(a.file);
      await waitForOutput(workerA, `as version jobs:${a.buildId}`, 5 * 60_000);
      await run(['deploy', 'set-current', a.buildId, '--wait']);
      await pg!.connect();
      // Ids and dates apart from the demo data the stack seeded. 20,000 users for the big export, 2,000 for a small one that runs on A alone (the replay check's witness).
      await pg!.query(
        `INSERT INTO users (id, email, name, created_at)
         SELECT i, 'user' || i || '@example.com', 'User ' || i,
                CASE WHEN i <= 120000 THEN '2030-03-10T12:00:00.000Z' ELSE '2030-03-11T12:00:00.000Z' END
         FROM generate_series(100001, 122000) AS i`,
      );
      await pg!.query(
        `INSERT INTO invoices (id, user_id, amount_cents, currency, created_at)
         SELECT i, i, 1000, 'EUR', now()::text FROM generate_series(100001, 100003) AS i`,
      );
      const now = new Date().toISOString();
      await pg!.query(
        `INSERT INTO exports (id, start_date, end_date, slice_size, on_slice_failure, status, created_at, updated_at)
         VALUES (100001, '2030-03-10', '2030-03-10', 25, 'fail', 'pending', $1, $1),
                (100002, '2030-03-11', '2030-03-11', 500, 'fail', 'pending', $1, $1)`,
        [now],
      );

      // The small export runs to its end on A: no verification step in its history.
      await run(['enqueue', 'large-data-export', '{"exportId":100002}', '--wait']);

      // Build B's workers poll; B is neither current nor ramping, so they get nothing yet.
      const workerB = startWorker(b.file);
      await waitForOutput(workerB, `as version jobs:${b.buildId}`, 5 * 60_000);

      // In flight on A: the 20,000-user export (800 slices of 25: more history than one run keeps, so it continues as
      // new on the way), three pinned runs holding a permit for 60 s, and three invoices due in 90 s (delayed: they start
      // when due, on whatever version is current then).
      const delayedDueAt = Date.now() + 90_000;
      const exportId = await enqueue('large-data-export', { exportId: 100001 });
      const pinned = await Promise.all(
        [1, 2, 3].map((i) =>
          enqueue('concurrency-probe-three', { id: `pinned-${i}`, key: `versioning-${i}`, holdMs: 60_000 }),
        ),
      );
      const delayed = await Promise.all(
        [100001, 100002, 100003].map((invoiceId) => enqueue('invoice-generation', { invoiceId }, '--in', '90s')),
      );
      // The pinned runs have started on A (their first workflow task completed there).
      const deadline = Date.now() + 60_000;
      for (;;) {
        const started = await Promise.all(pinned.map(async (id) => taskBuilds((await runsOf(id))[0]?.events ?? [])));
        if (started.every((builds) => builds.length > 0)) break;
        if (Date.now() > deadline) throw new Error(`the pinned runs did not start: ${JSON.stringify(started)}`);
        await new Promise((r) => setTimeout(r, 500));
      }
      const exportStart = await runsOf(exportId);
      expect(taskBuilds(exportStart[0]!.events)[0], 'the export started on A').toBe(a.buildId);

      // Ramp B to 50 %: new runs split between A and B (by workflow ID).
      await run(['deploy', 'ramp', b.buildId, '50']);
      expect((await deployStatus()).ramping).toEqual({ buildId: b.buildId, percentage: 50 });
      const ramped = await Promise.all(Array.from({ length: 20 }, (_, i) => noop(`ramped-${i}`)));
      const rampedOn = await Promise.all(ramped.map(async (id) => taskBuilds((await runsOf(id))[0]!.events)));
      const rampedBuilds = rampedOn.map((builds) => new Set(builds));
      expect(
        rampedBuilds.every((s) => s.size === 1),
        'a new pinned run stays on one version',
      ).toBe(true);
      const onB = rampedBuilds.filter((s) => s.has(b.buildId)).length;
      const onA = rampedBuilds.filter((s) => s.has(a.buildId)).length;
      expect(onA + onB).toBe(20);
      expect(onB, `20 runs at 50 %: ${onB} on B, ${onA} on A`).toBeGreaterThan(0);
      expect(onA).toBeGreaterThan(0);

      // B current: every new run on B; the export moves over at its next workflow task.
      await run(['deploy', 'set-current', b.buildId]);
      const status = await deployStatus();
      expect(status.current).toBe(b.buildId);
      expect(status.ramping).toBeUndefined();
      // Meaningful only while the pinned runs are still open and the delayed ones not due: say so if the machine was
      // too slow for that.
      for (const id of pinned) {
        const { status: pinnedStatus } = await jobClient!.status(id);
        expect(pinnedStatus, `${id} finished before B became current: the machine was too slow`).toBe('Running');
      }
      expect(Date.now(), 'the delayed jobs fell due before B became current').toBeLessThan(delayedDueAt - 5_000);
      const after = await Promise.all([1, 2, 3, 4, 5].map((i) => noop(`after-${i}`)));
      for (const id of after) expect(new Set(taskBuilds((await runsOf(id))[0]!.events))).toEqual(new Set([b.buildId]));

      // Everything in flight completes.
      for (const id of [...pinned, ...delayed]) await waitForStatus(id, 'Completed', 3 * 60_000);
      await waitForStatus(exportId, 'Completed', 5 * 60_000);

      // Pinned runs that started on A finished on A: every workflow task of theirs.
      for (const id of pinned) {
        const [only, ...more] = await runsOf(id);
        expect(more).toEqual([]);
        expect(new Set(taskBuilds(only!.events)), id).toEqual(new Set([a.buildId]));
      }
      // The delayed invoices started when due, after B became current: on B.
      for (const id of delayed)
        expect(new Set(taskBuilds((await runsOf(id))[0]!.events)), id).toEqual(new Set([b.buildId]));

      // The export started on A, moved to B, and went through the patched branch there: the patch marker and the
      // verification, in a workflow task B completed.
      const chain = await runsOf(exportId);
      expect(chain.length, 'the export continued as new on the way').toBeGreaterThan(1);
      const allTasks = chain.flatMap((r) => taskBuilds(r.events));
      expect(allTasks[0]).toBe(a.buildId);
      expect(allTasks.at(-1)).toBe(b.buildId);
      const last = chain.at(-1)!.events;
      const markerAt = last.findIndex(
        (e) =>
          e.markerRecordedEventAttributes &&
          JSON.stringify(
            Object.values(e.markerRecordedEventAttributes.details ?? {}).map((p) =>
              (p.payloads ?? []).map((x) => Buffer.from(x.data ?? []).toString()),
            ),
          ).includes('large-data-export-verification'),
      );
      expect(markerAt, 'the patch marker').toBeGreaterThan(-1);
      const verifyAt = last.findIndex(
        (e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'verifyExport',
      );
      expect(verifyAt).toBeGreaterThan(markerAt);
      const completedBy = last.find(
        (e) => e.workflowTaskCompletedEventAttributes && Number(e.eventId) === Number(last[markerAt]!.eventId) - 1,
      );
      expect(completedBy?.workflowTaskCompletedEventAttributes?.deploymentVersion?.buildId).toBe(b.buildId);
      const result = (await temporalClient!.workflow.getHandle(exportId).result()) as {
        exportedUsers: number;
        verifiedSlices?: number;
      };
      expect(result).toMatchObject({ exportedUsers: 20_000, verifiedSlices: 800 });

      // Every effect once: each user in exactly one slice's part; each invoice one document.
      const { rows: users } = await pg!.query(
        `SELECT count(*) AS lines, count(DISTINCT line) AS distinct_lines FROM (
           SELECT unnest(string_to_array(trim(trailing E'\\n' FROM content), E'\\n')) AS line
           FROM export_slices WHERE export_id = 100001) AS l`,
      );
      expect(users[0]).toEqual({ lines: '20000', distinct_lines: '20000' });
      const { rows: documents } = await pg!.query(
        'SELECT invoice_id, count(*) AS n FROM invoice_documents WHERE invoice_id > 100000 GROUP BY invoice_id ORDER BY invoice_id',
      );
      expect(documents).toEqual([100001, 100002, 100003].map((id) => ({ invoice_id: id, n: '1' })));

      // A is drained (no open run pinned to it), then its workers stop.
      const drained = await deployStatus();
      const versionA = drained.versions.find((v) => v.buildId === a.buildId)!;
      expect(versionA.openPinnedRuns).toBe(0);
      const printed = (await run(['deploy', 'status'])).stdout;
      expect(printed).toMatch(new RegExp(`${a.buildId}\\s+\\S+\\s+\\d+\\s+0\\s+\\d+\\s+drained`));
      await workerA.stop('SIGTERM');
      expect(workerA.child.exitCode).toBe(0);

      // Replay before deploy, against the server's histories of the export job: B's code takes every run over; with
      // its patched() call removed, the export that ran on A alone breaks, named with its event.
      const replayed = await jobctl(['replay', '--bundle', b.file, '--job', 'large-data-export'], env);
      expect(replayed.code, replayed.stderr).toBe(0);
      expect(replayed.stdout).toMatch(/Replayed [1-9]\d* run/);
      const broken = await jobctl(['replay', '--bundle', bUnpatched.file, '--job', 'large-data-export'], env);
      expect(broken.code).toBe(1);
      expect(broken.stderr).toMatch(/NONDETERMINISM largeDataExportWorkflow large-data-export\/100002 \(run [\w-]+\)/);
      // A's export went from its last slice straight to finalizing; B's code (without the patch) verifies first.
      expect(broken.stderr).toMatch(
        /large-data-export\/100002 \(run [\w-]+\) at event \d+ \(the workflow task completed there, then ActivityTaskScheduled finalizeExport \(event \d+\)\): .*'finalizeExport' does not match .*'verifyExport'/,
      );

      // Rollback: A's workers come back (the old image), and new runs go to A again.
      const workerA2 = startWorker(a.file);
      await waitForOutput(workerA2, `as version jobs:${a.buildId}`, 5 * 60_000);
      await run(['deploy', 'rollback']);
      expect((await deployStatus()).current).toBe(a.buildId);
      const back = await noop('after-rollback');
      expect(new Set(taskBuilds((await runsOf(back))[0]!.events))).toEqual(new Set([a.buildId]));

      // Every job completed once: no run of any workflow ended otherwise (a run that continued as new handed over to
      // the next run of its chain, which is counted in its turn).
      const notCompleted: string[] = [];
      for await (const r of temporalClient!.workflow.list({
        query:
          "ExecutionStatus != 'Completed' AND ExecutionStatus != 'Running' AND ExecutionStatus != 'ContinuedAsNew'",
      }))
        notCompleted.push(`${r.workflowId} (${r.type}, run ${r.runId}): ${r.status.name}`);
      expect(notCompleted, 'runs that neither completed nor run on').toEqual([]);
    },
    30 * 60_000,
  );
});
