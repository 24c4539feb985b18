import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { forEachLimited } from '../bench/harness';
import { processPayment, updateSearchIndex } from './jobs';
import { createHarness, eventually, type Harness } from './harness';

describe('priority queues', () => {
  describe('a flood of low work never holds up critical work', () => {
    let h: Harness;
    const started: string[] = [];

    beforeAll(async () => {
      h = await createHarness({
        deps: {
          searchIndexDelayMs: 50, // a slow low worker
          onSearchIndexStarted: (type, id) => started.push(`low:${type}/${id}`),
        },
      });
    });
    afterAll(() => h?.close());

    it('a payment enqueued behind 1,000 low jobs starts long before the backlog drains', async () => {
      const { userId } = await h.createInvoice();
      // The whole flood waits in the low queue before any worker runs, however fast or slow enqueueing is.
      await forEachLimited(1000, 50, async (i) => {
        await h.client.enqueue(updateSearchIndex, { recordType: 'user', recordId: userId + i + 1 });
      });
      const paymentId = await h.createPayment();
      await h.startWorkers([
        { queue: 'critical', concurrency: 5 },
        { queue: 'low', concurrency: 1 },
      ]);
      await eventually(
        async () => (started.length > 0 ? true : undefined),
        20_000,
        'the low worker to start on the flood',
      );

      const { workflowId } = await h.client.enqueue(processPayment, { paymentId });
      await h.env.client.workflow.getHandle(workflowId).result();
      const lowStartedBeforePayment = started.length;

      // The low queue has one slot and 50 ms per job: the payment got its own worker instead of waiting its turn.
      expect(lowStartedBeforePayment).toBeLessThan(500);
      const lowStillQueued = 1000 - lowStartedBeforePayment;
      expect(lowStillQueued).toBeGreaterThan(500);
      await h.stopWorkers();
    });
  });

  describe('priority keys order work within one queue', () => {
    let h: Harness;

    beforeAll(async () => {
      h = await createHarness();
    });
    afterAll(() => h?.close());

    it('jobs with key 1 enqueued after 50 jobs with key 5 are picked up first', async () => {
      // No worker yet: all 55 wait in the low queue's backlog; then one worker takes them in the matcher's order.
      const jobs: Array<{ workflowId: string; key: 1 | 5 }> = [];
      // Ids of no other test: workflow IDs (`update-search-index/invoice/<id>`) are shared by every test on the server.
      for (let i = 1; i <= 50; i++) {
        const id = h.unusedId();
        jobs.push({
          key: 5,
          ...(await h.client.enqueue(updateSearchIndex, { recordType: 'invoice', recordId: id }, { priorityKey: 5 })),
        });
      }
      for (let i = 1; i <= 5; i++) {
        const id = h.unusedId();
        jobs.push({
          key: 1,
          ...(await h.client.enqueue(updateSearchIndex, { recordType: 'invoice', recordId: id }, { priorityKey: 1 })),
        });
      }
      await h.startWorkers([{ queue: 'low', concurrency: 1 }]);
      await Promise.all(jobs.map((j) => h.env.client.workflow.getHandle(j.workflowId).result()));

      // When the server handed each job's first workflow task to the worker, as recorded in its history.
      const pickedUp = await Promise.all(
        jobs.map(async (j) => {
          const events = (await h.env.client.workflow.getHandle(j.workflowId).fetchHistory()).events ?? [];
          const t = events.find((e) => e.workflowTaskStartedEventAttributes)!.eventTime!;
          return { key: j.key, at: Number(t.seconds) * 1e9 + (t.nanos ?? 0) };
        }),
      );
      const order = pickedUp.sort((a, b) => a.at - b.at).map((p) => p.key);
      // Enqueued last, served first — statistically: the matcher orders the tasks it has loaded, per partition (a task
      // queue has 4), so a few key-5 tasks can go before them, and on a loaded machine one key-1 task was seen past
      // position 25. First-in-first-out would put all five key-1 jobs at positions 50-54.
      const mean = (key: number) => {
        const positions = order.flatMap((k, position) => (k === key ? [position] : []));
        return positions.reduce((a, b) => a + b, 0) / positions.length;
      };
      expect(order.slice(0, 25).filter((key) => key === 1).length).toBeGreaterThanOrEqual(4);
      expect(order.slice(50)).not.toContain(1);
      expect(mean(1) + 10).toBeLessThan(mean(5));
    });

    it('rejects a key outside 1..5 before anything reaches the server', async () => {
      await expect(
        h.client.enqueue(updateSearchIndex, { recordType: 'user', recordId: 1 }, { priorityKey: 9 as never }),
      ).rejects.toThrow(/priorityKey must be an integer from 1 to 5, got 9/);
    });
  });

  describe('process-payment', () => {
    let h: Harness;
    beforeAll(async () => {
      h = await createHarness();
      await h.startWorkers(['critical']);
    });
    afterAll(() => h?.close());

    it('charges once although the gateway timed out after charging and then failed', async () => {
      const paymentId = await h.createPayment(4999);
      h.gateway.script(`payment/${paymentId}`, [{ kind: 'timeout', delayMs: 1500 }, 'server_error']);

      const { workflowId } = await h.client.enqueue(processPayment, { paymentId });
      const result = await h.env.client.workflow.getHandle(workflowId).result();

      expect(h.gateway.requests.get(`payment/${paymentId}`)).toBe(3); // timeout, 5xx, success
      expect(h.gateway.effects.get(`payment/${paymentId}`)).toMatchObject({ applied: 1, replayed: 1 });
      const payment = await h.database.db
        .selectFrom('payments')
        .select(['status', 'charge_reference'])
        .where('id', '=', paymentId)
        .executeTakeFirstOrThrow();
      expect(payment).toEqual({ status: 'charged', charge_reference: result.reference });
      expect(result.reference).toBe(h.gateway.effects.get(`payment/${paymentId}`)!.result.reference);
    });
  });
});
