/**
 * Records one history of every workflow type into test/histories/, for test/replay.test.ts to replay against the
 * current workflow code. Run it again (and commit the result) when a workflow changes on purpose:
 *
 *   npx tsx test/record-histories.ts
 *   npx tsx test/record-histories.ts --job <name> --args '<json>'   # one job's only, e.g. a new job's first
 *   npx tsx test/record-histories.ts --debounce                     # the debounce workflow's only
 *
 * Starts its own dev server, database, fake vendor and gateway, and workers on every queue; runs one representative
 * execution per workflow type (and a few extra paths worth guarding), then writes each history as proto JSON — the
 * format of `temporal workflow show --output json`, which `Worker.runReplayHistories` reads back with historyFromJSON.
 */
import { testApp } from './jobs/app';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { WorkflowHandle } from '@temporalio/client';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import pino from 'pino';
import { JobClient } from '../src/client/client';
import { readSettings } from '../src/config';
import { startDevServer } from '../src/dev-server';
import { defineJob } from '../src/sandbox/job-definition';
import { findJobOrThrow } from '../src/sandbox/jobs';
import { semaphoreWorkflowId } from '../src/sandbox/concurrency';
import {
  concurrencyProbe,
  concurrencyProbeThree,
  generateReport,
  healthCheck,
  invoiceGeneration,
  largeDataExport,
  noop,
  noopExpiring,
  processPayment,
  processWebhook,
  sendWelcomeEmail,
  updateSearchIndex,
} from './jobs';
import { PRIORITIES, taskQueueName } from '../src/sandbox/queues';
import { FakeVendor } from '../src/testing/fake-vendor';
import { startWorkerProcess } from '../src/worker/worker-process';

const HISTORIES_DIR = path.resolve(__dirname, 'histories');

/** No job of the registry declares `debounce`: the debounce workflow's history is recorded with noop debounced. */
const debouncedNoop = defineJob({
  ...noop,
  name: 'debounced-noop',
  debounce: { key: () => 'record-histories', period: '1s', maxWait: '10s' },
});
/**
 * The export that continues-as-new: one user per slice. Reaching HISTORY_EVENTS_BEFORE_CONTINUE takes ~550 slices and a
 * last run of ~700 KiB, so the server instead suggests continue-as-new (`continueAsNewSuggested`, the workflow's other
 * trigger) past SUGGEST_CONTINUE_AS_NEW_AFTER events: the chain's runs stay small. Every other history is shorter.
 */
const CONTINUED_EXPORT_USERS = 40;
const SUGGEST_CONTINUE_AS_NEW_AFTER = 60;

/**
 * `--job <name> --args '<json>'` records that one job's history and leaves the others as they are: how a new job
 * (`jobctl new`) gets its first one. Users, invoices and the rest are seeded from id 1 either way.
 */
function parseOnly(argv: string[]): { job: string; args: unknown } | undefined {
  const at = (flag: string) => (argv.includes(flag) ? argv[argv.indexOf(flag) + 1] : undefined);
  const job = at('--job');
  if (job === undefined) return undefined;
  const raw = at('--args') ?? '{}';
  try {
    return { job, args: JSON.parse(raw) };
  } catch {
    throw new Error(`--args must be the job's arguments as JSON, got ${raw}`);
  }
}

async function main(): Promise<void> {
  const only = parseOnly(process.argv.slice(2));
  const started = Date.now();
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'durable-jobs-record-'));
  const server = await startDevServer({
    port: 0,
    headless: true,
    extraArgs: ['--dynamic-config-value', `limit.historyCount.suggestContinueAsNew=${SUGGEST_CONTINUE_AS_NEW_AFTER}`],
  });
  const env = await TestWorkflowEnvironment.createFromExistingServer({ address: server.address });
  const vendor = new FakeVendor();
  const gateway = new FakeVendor({ path: '/v1/charges' });
  const client = new JobClient({ client: env.client, taskQueuePrefix: 'record' });
  const worker = await startWorkerProcess({
    application: testApp,
    settings: {
      ...readSettings({}),
      temporalAddress: server.address,
      taskQueuePrefix: 'record',
      sqlitePath: path.join(dir, 'app.sqlite'),
    },
    deps: {
      services: {
        mailOutboxDir: path.join(dir, 'outbox'),
        vendorApiUrl: await vendor.start(),
        paymentGatewayUrl: await gateway.start(),
        vendorTimeoutMs: 2_000,
      },
    },
    queues: PRIORITIES.map((queue) => ({ queue, concurrency: 20 })),
    connection: env.nativeConnection,
    client,
    shutdownGraceTime: '5s',
    logger: pino({ level: 'silent' }),
  });
  const { db } = worker.app.database;
  const { workers } = worker;
  const running = worker.run();

  try {
    let nextId = 1;
    const now = new Date().toISOString();
    const createUsers = async (count: number, createdAt = now) => {
      const ids = Array.from({ length: count }, () => nextId++);
      for (let i = 0; i < ids.length; i += 500) {
        const rows = ids
          .slice(i, i + 500)
          .map((id) => ({ id, email: `user${id}@example.com`, name: `User ${id}`, created_at: createdAt }));
        await db.insertInto('users').values(rows).execute();
      }
      return ids;
    };
    const createInvoice = async () => {
      const [id] = await createUsers(1);
      await db
        .insertInto('invoices')
        .values({ id: id!, user_id: id!, amount_cents: 4200, currency: 'EUR', created_at: now })
        .execute();
      return id!;
    };
    const createExport = async (startDate: string, endDate: string, sliceSize: number) => {
      const id = nextId++;
      await db
        .insertInto('exports')
        .values({
          id,
          start_date: startDate,
          end_date: endDate,
          slice_size: sliceSize,
          on_slice_failure: 'complete',
          created_at: now,
          updated_at: now,
        })
        .execute();
      return id;
    };
    const createWebhook = async () => {
      const id = nextId++;
      await db
        .insertInto('webhook_payloads')
        .values({ id, data: JSON.stringify({ event: 'invoice.paid', amount: 4200 }), created_at: now, updated_at: now })
        .execute();
      return id;
    };

    const invoiceId = await createInvoice();
    const paymentUser = await createInvoice();
    await db
      .insertInto('payments')
      .values({ id: paymentUser, user_id: paymentUser, amount_cents: 1999, currency: 'EUR', created_at: now })
      .execute();
    const [welcomeUser] = await createUsers(1);
    const webhookOk = await createWebhook();
    const webhookDead = await createWebhook();
    vendor.script(`webhook-payload/${webhookDead}`, ['client_error', 'client_error']);
    await createUsers(12, '2026-03-10T12:00:00.000Z');
    const smallExport = await createExport('2026-03-01', '2026-03-31', 5); // 3 slices, one run
    await createUsers(CONTINUED_EXPORT_USERS, '2026-05-10T12:00:00.000Z');
    const bigExport = await createExport('2026-05-01', '2026-05-31', 1);

    const handle = (workflowId: string) => env.client.workflow.getHandle(workflowId);
    const enqueue = async (started: Promise<{ workflowId: string }>) => handle((await started).workflowId);

    /** file name (without .json) → the run whose history it holds */
    const everyRun = async (): Promise<Array<[string, Promise<WorkflowHandle>]>> => {
      const continued = await client.enqueue(largeDataExport, { exportId: bigExport });
      return [
        // The chain's first run (prepare … continue-as-new) and, through a handle that follows the chain, its last one.
        [
          'largeDataExportWorkflow.first-run',
          Promise.resolve(env.client.workflow.getHandle(continued.workflowId, continued.runId)),
        ],
        ['largeDataExportWorkflow.last-run', Promise.resolve(handle(continued.workflowId))],
        ['invoiceGenerationWorkflow', enqueue(client.enqueue(invoiceGeneration, { invoiceId }))],
        ['sendWelcomeEmailWorkflow', enqueue(client.enqueue(sendWelcomeEmail, { userId: welcomeUser! }))],
        [
          'generateReportWorkflow',
          enqueue(
            client.enqueue(generateReport, {
              userId: welcomeUser!,
              reportType: 'monthly_sales',
              startDate: '2026-03-01',
              endDate: '2026-03-31',
            }),
          ),
        ],
        ['processWebhookWorkflow', enqueue(client.enqueue(processWebhook, { webhookPayloadId: webhookOk }))],
        [
          'processWebhookWorkflow.dead-letter',
          enqueue(client.enqueue(processWebhook, { webhookPayloadId: webhookDead })),
        ],
        ['largeDataExportWorkflow', enqueue(client.enqueue(largeDataExport, { exportId: smallExport }))],
        ['processPaymentWorkflow', enqueue(client.enqueue(processPayment, { paymentId: paymentUser }))],
        [
          'updateSearchIndexWorkflow',
          enqueue(client.enqueue(updateSearchIndex, { recordId: invoiceId, recordType: 'invoice' })),
        ],
        ['healthCheckWorkflow', enqueue(client.enqueue(healthCheck, { windowMinutes: 5 }))],
        ['noopWorkflow', enqueue(client.enqueue(noop, { id: 'record-histories' }))],
        ['noopWorkflow.local-activity', enqueue(client.enqueue(noop, { id: 'record-histories-local', local: true }))],
        ['noopExpiringWorkflow', enqueue(client.enqueue(noopExpiring, { id: 'record-histories' }))],
        ['debounceWorkflow', debounceRun()],
        // Two runs of one key with limit 1: the second waits in line, so the semaphore grants, queues and releases.
        [
          'concurrencyProbeWorkflow',
          enqueue(client.enqueue(concurrencyProbe, { id: 'record-1', key: 'record', holdMs: 500 })),
        ],
        [
          'concurrencySemaphoreWorkflow',
          enqueue(client.enqueue(concurrencyProbe, { id: 'record-2', key: 'record', holdMs: 100 })).then(async (h) => {
            await h.result();
            // Closes after two idle lease periods (the probe's lease is 2 s): its whole history, start to close.
            return handle(semaphoreWorkflowId(taskQueueName('record', 'default'), concurrencyProbe.name, 'record'));
          }),
        ],
        [
          'concurrencyProbeThreeWorkflow',
          enqueue(client.enqueue(concurrencyProbeThree, { id: 'record-3', key: 'record', holdMs: 0 })),
        ],
      ];
    };
    /** Three enqueues of one key collapsed into one run (the debounce workflow's result lists it). */
    const debounceRun = async (): Promise<WorkflowHandle> => {
      for (const n of [1, 2, 3]) await client.enqueue(debouncedNoop, { id: `debounced-${n}` });
      return handle('debounced-noop/debounce/record-histories');
    };
    const runs: Array<[string, Promise<WorkflowHandle>]> = process.argv.includes('--debounce')
      ? [['debounceWorkflow', debounceRun()]]
      : only
        ? [[findJobOrThrow(only.job).workflowType, enqueue(client.enqueueByName(only.job, only.args))]]
        : await everyRun();

    fs.mkdirSync(HISTORIES_DIR, { recursive: true });
    if (!only && !process.argv.includes('--debounce'))
      for (const f of fs.readdirSync(HISTORIES_DIR)) {
        // `<type>.before-<change>.json` were recorded by the code before a patched change: they guard its old path and
        // cannot be recorded again, so they stay.
        if (f.endsWith('.json') && !f.includes('.before-')) fs.rmSync(path.join(HISTORIES_DIR, f));
      }
    const write = async (name: string, h: WorkflowHandle) => {
      // A handle without a run ID is the latest run: the last one of a continue-as-new chain.
      const history = await h.fetchHistory();
      const startedEvent = history.events?.[0]?.workflowExecutionStartedEventAttributes;
      if (name.endsWith('.last-run') && !startedEvent?.continuedExecutionRunId)
        throw new Error(`${h.workflowId} did not continue-as-new`);
      const file = path.join(HISTORIES_DIR, `${name}.json`);
      fs.writeFileSync(file, `${JSON.stringify(history)}\n`);
      console.log(
        `${name.padEnd(38)} ${String(history.events?.length).padStart(5)} events ${(fs.statSync(file).size / 1024).toFixed(1).padStart(7)} KiB  (${h.workflowId})`,
      );
    };

    const outcomes = await Promise.allSettled(
      runs.map(async ([name, p]) => {
        const h = await p;
        // result() of a pinned run follows its continue-as-new chain to the end.
        await h.result().catch((err: Error) => {
          if (name !== 'processWebhookWorkflow.dead-letter') throw err;
        });
        await write(name, h);
        if (name === 'largeDataExportWorkflow')
          await write('exportSliceWorkflow', handle(`large-data-export/${smallExport}/slice/0`)); // its first slice
      }),
    );
    const failed = outcomes.find((o) => o.status === 'rejected');
    if (failed) throw failed.reason;
    console.log(`recorded in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  } finally {
    for (const w of workers) if (w.getState() === 'RUNNING') w.shutdown();
    await running;
    await env.teardown();
    await vendor.stop();
    await gateway.stop();
    await worker.close();
    await server.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
