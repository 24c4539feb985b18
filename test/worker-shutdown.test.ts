import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { temporal } from '@temporalio/proto';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { JobClient } from '../src/client/client';
import { openDatabase, type OpenDatabase } from '../src/db/database';
import { migrations } from '../activities/services/migrations';
import { processWebhook } from './jobs';
import { FakeVendor } from '../src/testing/fake-vendor';
import { eventually } from './harness';
import { startJobctlWorker, type JobctlProcess } from './jobctl';

/**
 * SIGTERM is how orchestrators stop a worker: it must finish what it started (within its grace time), never fail it.
 * SIGKILL (a crash, an OOM kill) gives it no chance: the call's heartbeats stop, and another worker takes over.
 */
describe('a worker process stopped mid-activity', () => {
  let dir: string;
  let database: OpenDatabase;
  let env: TestWorkflowEnvironment;
  let client: JobClient;
  let vendor: FakeVendor;
  let workerEnv: NodeJS.ProcessEnv;
  const children: JobctlProcess[] = [];
  const prefix = `test-${randomUUID()}`;

  const startWorker = async () => {
    const worker = await startJobctlWorker('default:2', workerEnv);
    children.push(worker);
    return worker;
  };

  const stopWorkers = () => Promise.all(children.map((w) => w.stop('SIGTERM')));

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'durable-jobs-sigterm-'));
    database = await openDatabase({ sqlitePath: path.join(dir, 'app.sqlite'), migrations });
    env = await TestWorkflowEnvironment.createFromExistingServer({ address: inject('temporalAddress') });
    client = new JobClient({ client: env.client, taskQueuePrefix: prefix });
    vendor = new FakeVendor();
    workerEnv = {
      TEMPORAL_ADDRESS: inject('temporalAddress'),
      JOBS_TASK_QUEUE_PREFIX: prefix,
      JOBS_SQLITE_PATH: path.join(dir, 'app.sqlite'),
      VENDOR_API_URL: await vendor.start(),
      VENDOR_API_TIMEOUT_MS: '10000',
    };
  }, 60_000);

  afterAll(async () => {
    for (const w of children) void w.stop('SIGKILL');
    await vendor?.stop();
    await env?.teardown();
    await database?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('the in-flight vendor call finishes, the worker exits cleanly, and the job completes once', async () => {
    const now = new Date().toISOString();
    const id = Math.floor(Math.random() * 1e9);
    await database.db
      .insertInto('webhook_payloads')
      .values({ id, data: '{"event":"slow"}', created_at: now, updated_at: now })
      .execute();
    vendor.script(`webhook-payload/${id}`, [{ kind: 'timeout', delayMs: 4000 }]); // a slow (4 s) but successful answer
    const first = await startWorker();

    const { workflowId } = await client.enqueue(processWebhook, { webhookPayloadId: id });
    await eventually(
      async () => (vendor.requests.get(`webhook-payload/${id}`) ? true : undefined),
      30_000,
      'the vendor call to start',
    );
    const exitCode = await first.stop('SIGTERM');
    await startWorker(); // someone has to run the job's next workflow task

    await expect(env.client.workflow.getHandle(workflowId).result()).resolves.toMatchObject({
      alreadyProcessed: false,
    });
    expect(exitCode).toBe(0);
    expect(first.output()).toMatch(
      /"event":"activity_succeeded"[^\n]*"attempt":1|"attempt":1[^\n]*"event":"activity_succeeded"/,
    );
    expect(vendor.requests.get(`webhook-payload/${id}`)).toBe(1); // finished in place, not retried
    expect(vendor.effects.get(`webhook-payload/${id}`)?.applied).toBe(1);
  }, 120_000);

  it('kill -9 mid vendor call: the heartbeat timeout (5 s, not the 1 min start-to-close) moves it to another worker; applied once', async () => {
    const now = new Date().toISOString();
    const id = Math.floor(Math.random() * 1e9);
    await database.db
      .insertInto('webhook_payloads')
      .values({ id, data: '{"event":"crash"}', created_at: now, updated_at: now })
      .execute();
    await stopWorkers(); // the call must land on the worker this test kills
    vendor.script(`webhook-payload/${id}`, [{ kind: 'timeout', delayMs: 8000 }]); // applied, then the answer is slow
    const doomed = await startWorker();

    const { workflowId } = await client.enqueue(processWebhook, { webhookPayloadId: id });
    await eventually(
      async () => (vendor.requests.get(`webhook-payload/${id}`) ? true : undefined),
      30_000,
      'the vendor call to start',
    );
    doomed.child.kill('SIGKILL');
    await startWorker();

    await expect(env.client.workflow.getHandle(workflowId).result()).resolves.toMatchObject({
      alreadyProcessed: false,
    });
    const { events } = await env.client.workflow.getHandle(workflowId).fetchHistory();
    const started = events!
      .filter((e) => e.activityTaskStartedEventAttributes)
      .map((e) => e.activityTaskStartedEventAttributes!);
    const call = started[0]!; // processWebhook; only its final attempt is in the history
    expect(call.attempt).toBe(2);
    expect(call.lastFailure?.timeoutFailureInfo?.timeoutType).toBe(
      temporal.api.enums.v1.TimeoutType.TIMEOUT_TYPE_HEARTBEAT,
    );
    expect(vendor.requests.get(`webhook-payload/${id}`)).toBe(2); // the retry asked again, with the same idempotency key
    expect(vendor.effects.get(`webhook-payload/${id}`)?.applied).toBe(1);
  }, 120_000);
});
