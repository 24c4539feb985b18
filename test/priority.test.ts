import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { forEachLimited } from '../src/bench/harness';
import { processPayment, updateSearchIndex } from '../src/jobs';
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
      await h.startWorkers([
        { queue: 'critical', concurrency: 5 },
        { queue: 'low', concurrency: 1 },
      ]);
      await forEachLimited(1000, 50, async (i) => {
        await h.client.enqueue(updateSearchIndex, { recordType: 'user', recordId: userId + i + 1 });
      });
      const paymentId = await h.createPayment();

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
    const order: number[] = [];

    beforeAll(async () => {
      h = await createHarness({ deps: { onSearchIndexStarted: (_type, id) => order.push(id) } });
    });
    afterAll(() => h?.close());

    it('jobs with key 1 enqueued after 20 jobs with key 5 start first', async () => {
      // No worker yet: everything waits in the low queue, then one slot takes work in priority order.
      for (let id = 1; id <= 20; id++) await h.client.enqueue(updateSearchIndex, { recordType: 'invoice', recordId: id }, { priorityKey: 5 });
      for (let id = 101; id <= 105; id++) await h.client.enqueue(updateSearchIndex, { recordType: 'invoice', recordId: id }, { priorityKey: 1 });
      await h.startWorkers([{ queue: 'low', concurrency: 1 }]);

      await eventually(async () => (order.length === 25 ? true : undefined), 60_000, 'all 25 jobs to start');
      const urgentPositions = order.flatMap((id, position) => (id > 100 ? [position] : []));
      expect(urgentPositions.every((p) => p < 8)).toBe(true); // enqueued last, started (almost) first
    });

    it('rejects a key outside 1..5 before anything reaches the server', async () => {
      await expect(h.client.enqueue(updateSearchIndex, { recordType: 'user', recordId: 1 }, { priorityKey: 9 as never })).rejects.toThrow(
        /priorityKey must be an integer from 1 to 5, got 9/,
      );
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
      const payment = await h.database.db.selectFrom('payments').select(['status', 'charge_reference']).where('id', '=', paymentId).executeTakeFirstOrThrow();
      expect(payment).toEqual({ status: 'charged', charge_reference: result.reference });
      expect(result.reference).toBe(h.gateway.effects.get(`payment/${paymentId}`)!.result.reference);
    });
  });
});
