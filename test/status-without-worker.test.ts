import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { noop } from './jobs';
import { createHarness, type Harness } from './harness';

// `status` of a run that no worker has picked up yet (none polls its queue, or all are busy): what Temporal knows,
// after the progress query's short wait, never an error. The query's deadline ends the call as DEADLINE_EXCEEDED or,
// often, CANCELLED; a status that took only the first for "no answer in time" failed about two runs in five with a 500
// from `GET /jobs/<id>` right after a `POST`. Thirty short progress waits one after another make that near-certain to
// show; `status` itself is checked once, with its own three-second wait.
describe('status of a run no worker has picked up', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await createHarness(); // no worker
  });
  afterAll(() => h?.close());

  it('is Running with no progress; a progress wait that runs out is "no progress", thirty times in a row', async () => {
    const enqueued = await h.client.enqueue(noop, { id: `status-no-worker-${h.unusedId()}` });
    try {
      const status = await h.client.status(enqueued.workflowId);
      expect(status).toMatchObject({ status: 'Running', runId: enqueued.runId });
      expect(status.progress).toBeUndefined();
      for (let i = 0; i < 30; i++)
        expect(await h.client.progress(enqueued.workflowId, { timeoutMs: 150 }), `wait ${i + 1}`).toBeUndefined();
    } finally {
      await h.env.client.workflow.getHandle(enqueued.workflowId).terminate('test done');
    }
  }, 30_000);
});
