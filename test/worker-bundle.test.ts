import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { JobClient } from '../src/client/client';
import { noop } from './jobs';
import { jobctl, startJobctlWorker } from './jobctl';

/** Worker processes can load a bundle built once (the Docker image does) instead of bundling at every start. */
describe('jobctl bundle and JOBS_WORKFLOW_BUNDLE', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'durable-jobs-bundle-'));
  const bundle = path.join(dir, 'workflow-bundle.js');
  const prefix = `test-${randomUUID()}`;
  let env: TestWorkflowEnvironment;

  beforeAll(async () => {
    env = await TestWorkflowEnvironment.createFromExistingServer({ address: inject('temporalAddress') });
  });

  afterAll(async () => {
    await env?.teardown();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('a worker process runs jobs from the written bundle', async () => {
    const built = await jobctl(['bundle', '--out', bundle], {});
    expect(built.code, built.stderr).toBe(0);
    expect(built.stderr).toContain(`Workflow bundle written to ${bundle}`);

    const worker = await startJobctlWorker('default:2', {
      TEMPORAL_ADDRESS: inject('temporalAddress'),
      JOBS_TASK_QUEUE_PREFIX: prefix,
      JOBS_SQLITE_PATH: path.join(dir, 'app.sqlite'),
      JOBS_WORKFLOW_BUNDLE: bundle,
    });
    try {
      expect(worker.output()).toContain(`workflows from ${bundle}`);
      const client = new JobClient({ client: env.client, taskQueuePrefix: prefix });
      const { workflowId } = await client.enqueue(noop, { id: `bundle-${prefix}` });
      await expect(env.client.workflow.getHandle(workflowId).result()).resolves.toBeUndefined();
    } finally {
      expect(await worker.stop('SIGTERM')).toBe(0);
    }
  }, 120_000);

  it('refuses a missing bundle, or one built from other code, in one line before connecting', async () => {
    const missing = await jobctl(['worker'], {
      JOBS_WORKFLOW_BUNDLE: path.join(dir, 'nope.js'),
      TEMPORAL_ADDRESS: '127.0.0.1:1',
    });
    expect(missing.code).toBe(1);
    expect(missing.stderr).toBe(
      `jobctl: JOBS_WORKFLOW_BUNDLE: no workflow bundle at ${path.join(dir, 'nope.js')} (write one with \`jobctl bundle --out ${path.join(dir, 'nope.js')}\`)\n`,
    );

    const stale = path.join(dir, 'stale.js');
    fs.writeFileSync(stale, 'module.exports = { noopWorkflow: 1 };');
    const other = await jobctl(['worker'], { JOBS_WORKFLOW_BUNDLE: stale, TEMPORAL_ADDRESS: '127.0.0.1:1' });
    expect(other.code).toBe(1);
    expect(other.stderr).toMatch(
      /^jobctl: JOBS_WORKFLOW_BUNDLE: .*stale\.js was built from other code: it lacks invoiceGenerationWorkflow, .*; rebuild it with `jobctl bundle`\n$/,
    );
  }, 60_000);
});
