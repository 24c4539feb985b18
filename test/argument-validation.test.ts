import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { promisify } from 'node:util';
import { ApplicationFailure, Client, Connection, WorkflowFailedError } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { JobClient } from '../src/client/client';
import { jobStats } from '../src/client/stats';
import { resolveTemporalCli } from '../src/temporal-cli';
import { invoiceGenerationWorkflow } from './jobs';
import { createHarness, eventually, type Harness } from './harness';

const EventType = temporal.api.enums.v1.EventType;
const execFileAsync = promisify(execFile);

/**
 * A job guards its own door: a run started by any client other than ours — here the plain `@temporalio/client`, by
 * workflow type and with an ID that is not `<job>/<key>` — has its arguments checked by the job's workflow before any
 * activity is scheduled.
 */
describe('validation at the workflow door', () => {
  let h: Harness;
  let connection: Connection;
  let raw: Client;

  beforeAll(async () => {
    h = await createHarness();
    await h.startWorkers();
    connection = await Connection.connect({ address: inject('temporalAddress') });
    raw = new Client({ connection });
  });
  afterAll(async () => {
    await connection?.close();
    await h?.close();
  });

  const startRaw = (workflow: string | ((...args: any[]) => Promise<unknown>), args: unknown[]) =>
    raw.workflow.start(workflow, {
      taskQueue: `${h.taskQueuePrefix}-default`,
      workflowId: `raw-${randomUUID()}`,
      args,
    });

  const eventTypes = async (workflowId: string) =>
    ((await raw.workflow.getHandle(workflowId).fetchHistory()).events ?? []).map((e) => e.eventType);

  it('fails invoiceGenerationWorkflow started raw with {"invoiceId":"bad"}: InvalidJobArguments naming invoiceId, no activity scheduled', async () => {
    const handle = await startRaw('invoiceGenerationWorkflow', [{ invoiceId: 'bad' }]);
    const err = await handle.result().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WorkflowFailedError);
    const failure = (err as WorkflowFailedError).cause;
    expect(failure).toBeInstanceOf(ApplicationFailure);
    expect(failure).toMatchObject({ type: 'InvalidJobArguments', nonRetryable: true });
    expect((failure as ApplicationFailure).message).toMatch(/invoice-generation.*invoiceId: /);
    expect((failure as ApplicationFailure).details).toEqual([
      { job: 'invoice-generation', issues: [{ path: 'invoiceId', message: expect.any(String) }] },
    ]);

    const events = await eventTypes(handle.workflowId);
    expect(events).toContain(EventType.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED);
    expect(events).not.toContain(EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED);
    expect(h.calls.get('generateInvoice')).toBeUndefined();
  });

  it('fails a run started with the Temporal CLI the same way', async () => {
    const cli = await resolveTemporalCli({ build: false });
    const workflowId = `raw-cli-${randomUUID()}`;
    const started = await execFileAsync(cli!.path, [
      'workflow',
      'start',
      '--address',
      inject('temporalAddress'),
      '--type',
      'invoiceGenerationWorkflow',
      '--task-queue',
      `${h.taskQueuePrefix}-default`,
      '--workflow-id',
      workflowId,
      '--input',
      '{"invoiceId":"bad"}',
    ]);
    expect(started.stderr).toBe('');
    await expect(raw.workflow.getHandle(workflowId).result()).rejects.toMatchObject({
      cause: { type: 'InvalidJobArguments', message: expect.stringMatching(/invoiceId: /) },
    });
    expect(await eventTypes(workflowId)).not.toContain(EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED);
  });

  it('names every bad field, an unknown one, and a start with no arguments at all', async () => {
    const extra = await startRaw('generateReportWorkflow', [
      { userId: -1, reportType: 'weekly', startDate: '2026-02-30', endDate: '2026-01-01', x: 1 },
    ]);
    const failure = (await extra.result().catch((e: WorkflowFailedError) => e.cause)) as ApplicationFailure;
    const [{ issues }] = failure.details as [{ issues: Array<{ path: string }> }];
    expect(issues.map((i) => i.path).sort()).toEqual(['reportType', 'startDate', 'userId', 'x']);

    const none = await startRaw('sendWelcomeEmailWorkflow', []);
    await expect(none.result()).rejects.toMatchObject({
      cause: {
        type: 'InvalidJobArguments',
        message: expect.stringMatching(/\(arguments\): are missing: pass one object of named fields/),
      },
    });
    expect(await eventTypes(none.workflowId)).not.toContain(EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED);
  });

  it('runs the same raw start with good arguments to completion, and its run is listed, counted and retried as its job', async () => {
    const { invoiceId } = await h.createInvoice();
    const good = await startRaw(invoiceGenerationWorkflow, [{ invoiceId }]); // by workflow function, samples-style
    expect(await good.result()).toMatchObject({ invoiceId, alreadyGenerated: false });
    // Its activity ran: generateInvoice is a local activity, recorded as a marker.
    expect(await eventTypes(good.workflowId)).toContain(EventType.EVENT_TYPE_MARKER_RECORDED);

    const missingId = h.unusedId();
    const bad = await startRaw('invoiceGenerationWorkflow', [{ invoiceId: missingId }]); // valid, but no such invoice yet
    await expect(bad.result()).rejects.toThrow();
    const listed = await eventually(async () => {
      const runs = await h.client.list({ job: 'invoice-generation' });
      const ids = runs.map((r) => r.workflowId);
      return ids.includes(good.workflowId) && ids.includes(bad.workflowId) ? runs : undefined;
    });
    expect(listed.find((r) => r.workflowId === good.workflowId)).toMatchObject({
      job: 'invoice-generation',
      status: 'Completed',
    });
    // Visibility has them now, yet another deployment (task queue prefix) on the same namespace does not list them.
    const other = new JobClient({ client: h.env.client, taskQueuePrefix: `test-${randomUUID()}` });
    expect((await other.list({ job: 'invoice-generation' })).map((r) => r.workflowId)).not.toContain(good.workflowId);
    const stats = await eventually(async () => {
      const [row] = await jobStats(h.client, { since: new Date(Date.now() - 60_000), job: 'invoice-generation' });
      return row && row.completed >= 1 && row.failed >= 1 ? row : undefined;
    });
    expect(stats).toMatchObject({ job: 'invoice-generation' });
    const dead = await eventually(async () => {
      const list = await h.client.deadLetters({ job: 'invoice-generation' });
      return list.find((d) => d.workflowId === bad.workflowId);
    });
    expect(dead).toMatchObject({ job: 'invoice-generation', errorType: 'RecordNotFound' });

    // Retried by its workflow type, under its own raw ID, once the invoice exists.
    const now = new Date().toISOString();
    await h.database.db
      .insertInto('users')
      .values({ id: missingId, email: `u${missingId}@example.com`, name: 'U', created_at: now })
      .execute();
    await h.database.db
      .insertInto('invoices')
      .values({ id: missingId, user_id: missingId, amount_cents: 1, currency: 'EUR', created_at: now })
      .execute();
    expect(await h.client.retry(bad.workflowId)).toMatchObject({ workflowId: bad.workflowId, retried: true });
    expect(await raw.workflow.getHandle(bad.workflowId).result()).toMatchObject({ invoiceId: missingId });
  });
});
