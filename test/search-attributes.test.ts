import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { defineJob } from '../src/sandbox/job-definition';
import { taskQueueName } from '../src/sandbox/queues';
import { JOB_KEY, JOB_NAME, TENANT_ID } from '../src/sandbox/search-attributes';
import { resolveTemporalCli } from '../src/temporal-cli';
import { generateReport, invoiceGeneration, invoiceGenerationWorkflow, noop, noopWorkflow } from './jobs';
import { createHarness, eventually, type Harness } from './harness';

/** noop, debounced: its run is started by the debounce workflow, not by the client (README "Debounce"). */
const debouncedNoop = defineJob({
  name: 'debounced-noop',
  description: 'noop, debounced by its id',
  workflow: noopWorkflow,
  queue: 'default',
  args: noop.args,
  idempotencyKey: ({ id }) => id,
  enqueueOverHttp: false,
  debounce: { key: ({ id }) => id, period: '100ms' },
});

/**
 * Runs the Web UI and `temporal workflow list` can find (README "Finding runs"): every run of a job carries JobName and
 * JobKey (and TenantId for a job that declares `tenant`) from its start, however it was started, and a summary. The
 * shared dev server was started with them registered (src/dev-server.ts); other tests' runs share it, so each query
 * is scoped to this test's task queues.
 */
describe('search attributes: runs the Web UI can find', () => {
  let h: Harness;
  let temporalCli: string;
  const invoiceIds: number[] = [];
  const invoiceWorkflowIds: string[] = [];

  beforeAll(async () => {
    h = await createHarness();
    temporalCli = (await resolveTemporalCli())!.path;
    await h.startWorkers(['default']);
  }, 30_000);

  afterAll(async () => {
    await h?.close();
  });

  /** `temporal workflow list --query <query>`, the Temporal CLI itself against the test server: the workflow IDs. */
  async function temporalWorkflowList(query: string): Promise<string[]> {
    const json = await promisify(execFile)(
      temporalCli,
      [
        'workflow',
        'list',
        '--address',
        inject('temporalAddress'),
        '--namespace',
        'default',
        '--query',
        query,
        '--output',
        'jsonl',
      ],
      { timeout: 30_000 },
    );
    return json.stdout
      .split('\n')
      .filter((line) => line.trim() !== '')
      .map((line) => (JSON.parse(line) as { execution: { workflowId: string } }).execution.workflowId)
      .sort();
  }

  it('`temporal workflow list --query "JobName = \'invoice-generation\'"` returns exactly the invoice runs', async () => {
    for (let i = 0; i < 2; i++) invoiceIds.push((await h.createInvoice()).invoiceId);
    const invoices = await Promise.all(
      invoiceIds.map((invoiceId) => h.client.enqueue(invoiceGeneration, { invoiceId })),
    );
    invoiceWorkflowIds.push(...invoices.map((r) => r.workflowId).sort());
    // Another job's runs on the same queue, and a debounced one: not invoices.
    const other = await h.client.enqueue(noop, { id: `other-${h.unusedId()}` });
    const debounced = await h.client.enqueue(debouncedNoop, { id: `debounced-${h.unusedId()}` });
    for (const run of invoices) await h.env.client.workflow.getHandle(run.workflowId).result();
    await h.env.client.workflow.getHandle(other.workflowId).result();

    const queue = `TaskQueue = '${taskQueueName(h.taskQueuePrefix, 'default')}'`;
    // Visibility trails the runs' start by a moment: wait until the other job's run is listed too, then look.
    await eventually(
      async () => ((await temporalWorkflowList(`JobName = 'noop' AND ${queue}`)).length === 1 ? true : undefined),
      20_000,
      'the noop run in visibility',
    );
    expect(await temporalWorkflowList(`JobName = 'invoice-generation' AND ${queue}`)).toEqual(invoiceWorkflowIds);
    expect(await temporalWorkflowList(`JobName = 'noop' AND ${queue}`)).toEqual([other.workflowId]);
    // By key: one invoice.
    expect(await temporalWorkflowList(`JobKey = '${invoiceIds[0]}' AND ${queue}`)).toEqual([
      `invoice-generation/${invoiceIds[0]}`,
    ]);

    // The debounced run, started by the debounce workflow as a child: its job's name and key, not the debounce's.
    const debouncedRuns = await eventually(
      async () => {
        const ids = await temporalWorkflowList(`JobName = 'debounced-noop' AND ${queue}`);
        return ids.length > 0 ? ids : undefined;
      },
      20_000,
      'the debounced run',
    );
    expect(debouncedRuns).toHaveLength(1);
    expect(debouncedRuns[0]).toMatch(new RegExp(`^debounced-noop/debounced-\\d+/debounced/`));
    expect(debouncedRuns[0]).not.toBe(debounced.workflowId); // the debounce workflow itself carries no JobName
  }, 60_000);

  it("each run's summary says what it is, and JobName/JobKey are on the run", async () => {
    const description = await h.env.client.workflow.getHandle(invoiceWorkflowIds[0]!).describe();
    const invoiceId = Number(invoiceWorkflowIds[0]!.split('/')[1]);
    expect(await description.staticSummary()).toBe(`invoice-generation · invoice ${invoiceId}`);
    expect(description.typedSearchAttributes.get(JOB_NAME)).toBe('invoice-generation');
    expect(description.typedSearchAttributes.get(JOB_KEY)).toBe(String(invoiceId));
    expect(description.typedSearchAttributes.get(TENANT_ID)).toBeUndefined(); // invoices declare no tenant
    // A job without `summary`: `<job> · <key>`.
    const noopRun = await h.client.enqueue(noop, { id: `summary-${h.unusedId()}` });
    const noopDescription = await h.env.client.workflow.getHandle(noopRun.workflowId).describe();
    expect(await noopDescription.staticSummary()).toBe(`noop · ${noopRun.workflowId.slice('noop/'.length)}`);
  });

  it('a job that declares a tenant carries TenantId, and jobctl list filters by it', async () => {
    // generate-report runs on the low queue, which no worker of this test serves: its runs wait, Running.
    const [userA, userB] = [h.unusedId(), h.unusedId()];
    const args = (userId: number) =>
      ({ userId, reportType: 'monthly_sales', startDate: '2026-01-01', endDate: '2026-01-31' }) as const;
    const [a, b] = [
      await h.client.enqueue(generateReport, args(userA)),
      await h.client.enqueue(generateReport, args(userB)),
    ];
    const description = await h.env.client.workflow.getHandle(a.workflowId).describe();
    expect(description.typedSearchAttributes.get(TENANT_ID)).toBe(String(userA));
    expect(await description.staticSummary()).toBe(
      `generate-report · monthly_sales for user ${userA}, 2026-01-01..2026-01-31`,
    );
    // Visibility is eventually consistent: each run's record may lag its start, b's as much as a's.
    const listed = async (tenant: number) =>
      eventually(async () => {
        const runs = await h.client.list({ tenant: String(tenant) });
        return runs.length > 0 ? runs : undefined;
      });
    expect((await listed(userA)).map((r) => r.workflowId)).toEqual([a.workflowId]);
    expect((await listed(userB)).map((r) => r.workflowId)).toEqual([b.workflowId]);
    await Promise.all([h.client.cancel(a.workflowId), h.client.cancel(b.workflowId)]);
  });

  it('runs started before runs carried JobName are still listed, dead-lettered and retried, and a retry carries it', async () => {
    // A run as older versions started it: no search attributes, no summary. Invoice 1 in the future: it does not
    // exist, so the run fails at once (RecordNotFound is not retried) and is a dead letter.
    const missing = h.unusedId();
    const legacyId = `invoice-generation/${missing}`;
    await h.env.client.workflow.start(invoiceGenerationWorkflow, {
      workflowId: legacyId,
      taskQueue: taskQueueName(h.taskQueuePrefix, 'default'),
      args: [{ invoiceId: missing }],
    });
    await expect(h.env.client.workflow.getHandle(legacyId).result()).rejects.toThrow();
    const legacy = await h.env.client.workflow.getHandle(legacyId).describe();
    expect(legacy.typedSearchAttributes.get(JOB_NAME)).toBeUndefined();

    const queue = `TaskQueue = '${taskQueueName(h.taskQueuePrefix, 'default')}'`;
    // jobctl list and dead find it (by workflow type); a JobName query does not (README "Finding runs").
    const dead = await eventually(async () => {
      const found = await h.client.deadLetters({ job: 'invoice-generation' });
      return found.some((d) => d.workflowId === legacyId) ? found : undefined;
    });
    expect(dead.map((d) => d.workflowId)).toEqual([legacyId]);
    expect((await h.client.list({ job: 'invoice-generation' })).map((r) => r.workflowId).sort()).toEqual(
      [...invoiceWorkflowIds, legacyId].sort(),
    );
    expect(await temporalWorkflowList(`JobName = 'invoice-generation' AND ${queue}`)).toEqual(invoiceWorkflowIds);

    // The retry is a new run, started by the client: it carries JobName, JobKey and the summary.
    const retried = await h.client.retry(legacyId);
    expect(retried.retried).toBe(true);
    const retry = await h.env.client.workflow.getHandle(legacyId, retried.runId).describe();
    expect(retry.typedSearchAttributes.get(JOB_NAME)).toBe('invoice-generation');
    expect(retry.typedSearchAttributes.get(JOB_KEY)).toBe(String(missing));
    expect(await retry.staticSummary()).toBe(`invoice-generation · invoice ${missing}`);
    await expect(h.env.client.workflow.getHandle(legacyId, retried.runId).result()).rejects.toThrow();
    await eventually(async () =>
      (await temporalWorkflowList(`JobName = 'invoice-generation' AND ${queue}`)).includes(legacyId) ? true : undefined,
    );
  }, 60_000);

  it('a declaration whose tenant or summary is not a function is refused, naming the field', () => {
    expect(() => defineJob({ ...noop, tenant: 'acme' as never })).toThrow(
      /job "noop": tenant must be a function of the arguments/,
    );
    expect(() => defineJob({ ...noop, summary: 42 as never })).toThrow(/job "noop": summary must be a function/);
  });

  it('a tenant that is not a non-empty string fails the enqueue, naming the field, before any run starts', async () => {
    const blank = defineJob({ ...noop, name: 'blank-tenant', tenant: () => '' });
    await expect(h.client.enqueue(blank, { id: 'x' })).rejects.toThrow(
      /job "blank-tenant": tenant must return a non-empty string, got ""/,
    );
  });
});
