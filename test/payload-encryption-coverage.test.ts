import path from 'node:path';
import type { temporal } from '@temporalio/proto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { ENCRYPTED_ENCODING, Keyring, KEY_ID_METADATA } from '../src/encryption';
import { PROGRESS_QUERY } from '../src/sandbox/progress';
import { invoiceGeneration, largeDataExport } from './jobs';
import { createHarness, eventually, type Harness } from './harness';
import { startJobctlWorker } from './jobctl';

type RawPayload = temporal.api.common.v1.IPayload;
const text = (bytes: Uint8Array | null | undefined) => Buffer.from(bytes ?? []).toString('utf8');

/** What the raw gRPC API (no codec) returns is what the server stores: ciphertext under key k1. */
function expectEncrypted(payloads: RawPayload[] | null | undefined, plaintext: string) {
  expect(payloads?.length).toBeGreaterThan(0);
  for (const p of payloads!) {
    expect(text(p.metadata?.encoding)).toBe(ENCRYPTED_ENCODING);
    expect(text(p.metadata?.[KEY_ID_METADATA])).toBe('k1');
    expect(Buffer.from(p.data!).includes(plaintext)).toBe(false);
  }
}

/**
 * The payloads payload-encryption.test.ts does not reach: a child workflow's input, a query's answer, and a workflow
 * task taken by a worker that lacks the key.
 */
describe('payload encryption beyond a single job', () => {
  const keyring = Keyring.parse(Keyring.generate('k1'));
  let h: Harness;

  beforeAll(async () => {
    h = await createHarness({ encryption: keyring });
  });
  afterAll(() => h?.close());

  it('encrypts the export’s child workflow inputs and its progress query answer', async () => {
    await h.startWorkers(['low']);
    try {
      await h.createUsers(10, '2026-06-15');
      const exportId = await h.createExport({ startDate: '2026-06-15', endDate: '2026-06-15', sliceSize: 5 });
      const { workflowId } = await h.client.enqueue(largeDataExport, { exportId });
      await h.env.client.workflow.getHandle(workflowId).result();

      const { history } = await h.env.client.workflowService.getWorkflowExecutionHistory({
        namespace: 'default',
        execution: { workflowId },
      });
      const children = history!.events!.filter((e) => e.startChildWorkflowExecutionInitiatedEventAttributes);
      expect(children).toHaveLength(2);
      for (const child of children) {
        expectEncrypted(child.startChildWorkflowExecutionInitiatedEventAttributes!.input?.payloads, 'fromUserId');
      }

      // A query goes to a worker and back through the server: the raw answer is ciphertext, the client's plain.
      const { queryResult } = await h.env.client.workflowService.queryWorkflow({
        namespace: 'default',
        execution: { workflowId },
        query: { queryType: PROGRESS_QUERY },
      });
      expectEncrypted(queryResult?.payloads, 'slices');
      expect(await h.client.progress(workflowId)).toMatchObject({ total: 2, done: 2, unit: 'slices' });
    } finally {
      await h.stopWorkers();
    }
  }, 120_000);

  it('a worker without the key fails the workflow task naming the key; a worker with it then runs the job', async () => {
    // A `jobctl worker` process on the same queues and database, configured without JOBS_ENCRYPTION_KEYS.
    const keyless = await startJobctlWorker('default:2', {
      TEMPORAL_ADDRESS: inject('temporalAddress'),
      JOBS_TASK_QUEUE_PREFIX: h.taskQueuePrefix,
      JOBS_SQLITE_PATH: path.join(h.dir, 'app.sqlite'),
      JOBS_MAIL_OUTBOX_DIR: path.join(h.dir, 'outbox'),
      JOBS_WORKFLOW_BUNDLE: inject('workflowBundlePath'),
      JOBS_ENCRYPTION_KEYS: '',
    });
    try {
      const { invoiceId } = await h.createInvoice();
      const { workflowId } = await h.client.enqueue(invoiceGeneration, { invoiceId });
      const handle = h.env.client.workflow.getHandle(workflowId);
      const failedTask = await eventually(
        async () =>
          (await handle.fetchHistory()).events?.find((e) => e.workflowTaskFailedEventAttributes)
            ?.workflowTaskFailedEventAttributes ?? undefined,
        30_000,
        'a workflow task failed by the keyless worker',
      );
      expect(failedTask.failure?.message).toMatch(/key "k1"/);
      expect(keyless.output()).toMatch(/key "k1"/);
      expect((await handle.describe()).status.name).toBe('RUNNING');
      expect(h.calls.get('generateInvoice') ?? 0).toBe(0);

      // The keyless worker keeps polling; the task is retried until the worker with the key takes it.
      await h.startWorkers(['default']);
      await expect(handle.result()).resolves.toMatchObject({ invoiceId });
      expect(h.calls.get('generateInvoice')).toBe(1);
    } finally {
      await keyless.stop();
      await h.stopWorkers();
    }
  }, 120_000);
});
