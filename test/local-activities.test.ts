import type { temporal } from '@temporalio/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defineJob } from '../src/sandbox/job-definition';
import { invoiceGeneration, noop, processWebhook } from './jobs';
import { createHarness, type Harness } from './harness';

type HistoryEvent = temporal.api.history.v1.IHistoryEvent;

async function historyOf(h: Harness, workflowId: string): Promise<HistoryEvent[]> {
  return (await h.env.client.workflow.getHandle(workflowId).fetchHistory()).events ?? [];
}

const scheduledActivities = (events: HistoryEvent[]) =>
  events.filter((e) => e.activityTaskScheduledEventAttributes).map((e) => e.activityTaskScheduledEventAttributes!);
const markers = (events: HistoryEvent[]) =>
  events.filter((e) => e.markerRecordedEventAttributes).map((e) => e.markerRecordedEventAttributes!.markerName);

describe('local activities declared by a job', () => {
  let h: Harness;
  let failFirstAttempt: Set<number>;

  beforeAll(async () => {
    failFirstAttempt = new Set();
    h = await createHarness({
      deps: {
        afterInvoiceCommitted: (invoiceId) => {
          if (failFirstAttempt.delete(invoiceId)) throw new Error(`simulated crash after invoice ${invoiceId}`);
        },
      },
    });
    await h.startWorkers();
  });
  afterAll(() => h?.close());

  it('invoice-generation runs generateInvoice as a local activity: no activity task through the server', async () => {
    const { invoiceId } = await h.createInvoice();
    const before = h.calls.get('generateInvoice') ?? 0;
    const { workflowId } = await h.client.enqueue(invoiceGeneration, { invoiceId });
    const result = await h.env.client.workflow.getHandle(workflowId).result();

    expect(result).toMatchObject({ invoiceId, alreadyGenerated: false });
    expect((h.calls.get('generateInvoice') ?? 0) - before).toBe(1);
    const events = await historyOf(h, workflowId);
    expect(scheduledActivities(events)).toEqual([]);
    expect(markers(events)).toEqual(expect.arrayContaining(['core_patch', 'core_local_activity']));
  });

  it("a failed local attempt is retried with the activity's retry policy (initial interval 1 s), once", async () => {
    const { invoiceId } = await h.createInvoice();
    failFirstAttempt.add(invoiceId);
    const before = h.calls.get('generateInvoice') ?? 0;
    const started = Date.now();
    const { workflowId } = await h.client.enqueue(invoiceGeneration, { invoiceId });
    const result = await h.env.client.workflow.getHandle(workflowId).result();

    expect(failFirstAttempt.has(invoiceId)).toBe(false);
    expect((h.calls.get('generateInvoice') ?? 0) - before).toBe(2);
    // The second attempt found its own committed document: one document, whatever the retries.
    expect(result).toMatchObject({ invoiceId, alreadyGenerated: true });
    // databaseActivity's initialInterval is 1 s: the retry waited for it (a lower bound, never a speed check).
    expect(Date.now() - started).toBeGreaterThanOrEqual(1_000);
    const events = await historyOf(h, workflowId);
    expect(scheduledActivities(events)).toEqual([]);
  });

  it('the noop job runs its activity remotely by default and locally with local: true', async () => {
    const remote = await h.client.enqueue(noop, { id: `remote-${h.taskQueuePrefix}` });
    const local = await h.client.enqueue(noop, { id: `local-${h.taskQueuePrefix}`, local: true });
    await Promise.all([remote, local].map((r) => h.env.client.workflow.getHandle(r.workflowId).result()));

    const remoteEvents = await historyOf(h, remote.workflowId);
    expect(scheduledActivities(remoteEvents).map((a) => a.activityType?.name)).toEqual(['noop']);
    expect(markers(remoteEvents)).toEqual([]);
    const localEvents = await historyOf(h, local.workflowId);
    expect(scheduledActivities(localEvents)).toEqual([]);
    expect(markers(localEvents)).toContain('core_local_activity');
  });

  it('a declaration may not run an activity with a retry table locally', () => {
    const table = processWebhook.retryTables!.processWebhook!;
    expect(() =>
      defineJob({
        ...invoiceGeneration,
        name: 'local-with-table',
        activities: { generateInvoice: { options: { startToCloseTimeout: '30s' }, retry: table, local: true } },
      }),
    ).toThrow(/activities.generateInvoice is local and has a retry table/);
  });
});
