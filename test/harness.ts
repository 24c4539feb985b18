import { randomInt, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { WorkflowHandle } from '@temporalio/client';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { DefaultLogger, makeTelemetryFilterString, Runtime, type WorkflowBundle } from '@temporalio/worker';
import { Writable } from 'node:stream';
import pino, { type Logger } from 'pino';
import { inject } from 'vitest';
import { openApplication } from '../src/worker/app-resources';
import { FileOutboxTransport } from '../activities/services/mail';
import { testApp, type TestActivityDeps } from './jobs/app';
import './jobs'; // declares the test application's jobs in this process
import { JobClient } from '../src/client/client';
import { readSettings, type Settings } from '../src/config';
import type { OpenDatabase } from '../src/db/database';
import { FakeVendor } from '../src/testing/fake-vendor';
import type { Priority } from '../src/sandbox/queues';
import type { QueueCapacity } from '../src/worker/workers';
import { startWorkerProcess, type WorkerProcess } from '../src/worker/worker-process';
import { dataConverterFor, type Keyring } from '../src/encryption';
import { encodeSearchAttributeIndexedValueType } from '@temporalio/common/lib/search-attributes';
import { SEARCH_ATTRIBUTES } from '../src/sandbox/search-attributes';
import { Client as PgClient } from 'pg';
import { withDatabase } from '../src/stack/postgres';

let runtimeQuieted = false;
quietTemporalRuntime();

/**
 * The SDK's own log lines, TypeScript side and Rust core alike, at ERROR only: worker lifecycle lines, the expected
 * activity-failure warnings and the retry warnings of a deliberate server outage would drown the test output.
 */
export function quietTemporalRuntime(): void {
  if (runtimeQuieted) return; // a process has one runtime: installing it twice throws
  runtimeQuieted = true;
  Runtime.install({
    logger: new DefaultLogger('ERROR'),
    telemetryOptions: { logging: { filter: makeTelemetryFilterString({ core: 'ERROR', other: 'ERROR' }) } },
  });
}

export interface Harness {
  env: TestWorkflowEnvironment;
  client: JobClient;
  database: OpenDatabase;
  mail: FileOutboxTransport;
  /** The fake vendor API the activities call, over real HTTP. */
  vendor: FakeVendor;
  /** The fake payment gateway, over real HTTP. */
  gateway: FakeVendor;
  taskQueuePrefix: string;
  dir: string;
  /**
   * The environment that points a spawned `jobctl` process at this harness's own app database: `DATABASE_URL` of its
   * PostgreSQL database (with TEST_DATABASE_URL), else `JOBS_SQLITE_PATH` of its SQLite file.
   */
  databaseEnv: { DATABASE_URL: string } | { JOBS_SQLITE_PATH: string };
  /** How many times each activity was invoked, by name. */
  calls: Map<string, number>;
  /** An id no record has, unique across the run. */
  unusedId(): number;
  /** Creates a user and an invoice with ids unique across the whole test run (all tests share one server). */
  createInvoice(): Promise<{ userId: number; invoiceId: number }>;
  /** Inserts `count` users created on `createdAt` (ISO date); returns their ids, ascending. */
  createUsers(count: number, createdAt: string): Promise<number[]>;
  /** Creates an export row (id unique across the run) and returns its id. */
  createExport(values: {
    startDate: string;
    endDate: string;
    sliceSize?: number;
    onSliceFailure?: 'fail' | 'complete';
  }): Promise<number>;
  /** Creates a pending payment for a new user (ids unique across the run) and returns its id. */
  createPayment(amountCents?: number): Promise<number>;
  /** Stores a webhook payload (id unique across the run) and returns its id. */
  createWebhook(data?: unknown): Promise<number>;
  /** Starts workers on this harness's queues (concurrency 10 unless given); stop them with `stopWorkers`. */
  startWorkers(queues?: Array<Priority | QueueCapacity>): Promise<void>;
  stopWorkers(): Promise<void>;
  close(): Promise<void>;
}

/**
 * A test's own world on the shared server: its own task queue prefix, SQLite database and mail outbox, and a Temporal
 * client from the SDK's testing package connected to the run's real dev server.
 */
export interface HarnessOptions {
  /** Replaces or adds activity dependencies. */
  deps?: Partial<TestActivityDeps>;
  /** Another Temporal environment (e.g. time-skipping); the caller tears it down. @default the run's dev server */
  env?: TestWorkflowEnvironment;
  /** Timeout of the vendor client. @default 500 ms */
  vendorTimeoutMs?: number;
  /** Where the workers' job and activity log lines go. @default discarded */
  logger?: Logger;
  /** Passed to the workers; 0 makes every workflow task a replay from history. */
  maxCachedWorkflows?: number;
  /** Payload encryption for the workers, and for the client when the harness makes its own environment. */
  encryption?: Keyring;
  /** The workers' workflow bundle (e.g. one built with tracing). @default the run's bundle (global setup) */
  workflowBundle?: WorkflowBundle;
}

/**
 * The PostgreSQL server the suite's business data goes to, if any: TEST_DATABASE_URL (or what the run's global setup
 * provided), a URL whose user may create databases.
 */
export function testDatabaseUrl(): string | undefined {
  return process.env.TEST_DATABASE_URL || inject('testDatabaseUrl') || undefined;
}

/**
 * A database of its own on the server of `serverUrl` (created empty; `openApplication` migrates it), so no test sees another's
 * rows: a date-range export counts only the users its own test created. `drop` removes it, ending any connection a
 * spawned process left open (PostgreSQL 13+).
 */
async function createOwnDatabase(serverUrl: string): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `jobs_test_${randomUUID().replace(/-/g, '')}`;
  const admin = async (statement: string) => {
    const pg = new PgClient({ connectionString: serverUrl });
    await pg.connect();
    try {
      await pg.query(statement);
    } finally {
      await pg.end();
    }
  };
  await admin(`CREATE DATABASE ${name}`);
  return { url: withDatabase(serverUrl, name), drop: () => admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`) };
}

export async function createHarness(options: HarnessOptions = {}): Promise<Harness> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'durable-jobs-test-'));
  const postgresServer = testDatabaseUrl();
  const ownDatabase = postgresServer ? await createOwnDatabase(postgresServer) : undefined;
  const ownEnv = !options.env;
  const dataConverter = dataConverterFor(options.encryption);
  const env =
    options.env ??
    (await TestWorkflowEnvironment.createFromExistingServer({
      address: inject('temporalAddress'),
      client: { dataConverter },
    }));
  const vendor = new FakeVendor();
  const vendorUrl = await vendor.start();
  const gateway = new FakeVendor({ path: '/v1/charges' });
  const gatewayUrl = await gateway.start();
  const taskQueuePrefix = `test-${randomUUID()}`;
  const client = new JobClient({ client: env.client, taskQueuePrefix });
  // The settings a worker process of this test would read: its own queues, database, outbox and fakes.
  const settings: Settings = {
    ...readSettings({}),
    temporalNamespace: env.namespace ?? 'default',
    taskQueuePrefix,
    // TEST_DATABASE_URL runs the suite against PostgreSQL: a database of this harness's own on that server.
    databaseUrl: ownDatabase?.url,
    sqlitePath: path.join(dir, 'app.sqlite'),
    encryption: options.encryption,
  };
  // The example application's own services: this test's outbox and fakes.
  const services = {
    mailOutboxDir: path.join(dir, 'outbox'),
    vendorApiUrl: vendorUrl,
    paymentGatewayUrl: gatewayUrl,
    vendorTimeoutMs: options.vendorTimeoutMs ?? 500,
  };
  const mail = new FileOutboxTransport(services.mailOutboxDir);
  const app = await openApplication(testApp, settings, { jobs: client, mail, services, ...options.deps });
  const { database } = app;
  const calls = new Map<string, number>();
  const activities = countCalls(app.activities, calls);
  const workflowBundle = options.workflowBundle ?? { code: fs.readFileSync(inject('workflowBundlePath'), 'utf8') };
  let running: { worker: WorkerProcess; done: Promise<void> } | undefined;
  // Ids far apart per test, so workflow IDs like invoice-generation/<id> never collide between tests.
  let nextId = ownDatabase ? randomInt(1, 20_000) * 100_000 : randomInt(1, 2 ** 40) * 1000; // PostgreSQL ids are int4

  const harness: Harness = {
    env,
    client,
    database,
    mail,
    vendor,
    gateway,
    taskQueuePrefix,
    dir,
    databaseEnv: ownDatabase ? { DATABASE_URL: ownDatabase.url } : { JOBS_SQLITE_PATH: settings.sqlitePath },
    calls,
    unusedId: () => nextId++,
    async createInvoice() {
      const id = nextId++;
      const now = new Date().toISOString();
      await database.db
        .insertInto('users')
        .values({ id, email: `user${id}@example.com`, name: `User ${id}`, created_at: now })
        .execute();
      await database.db
        .insertInto('invoices')
        .values({ id, user_id: id, amount_cents: 4200, currency: 'EUR', created_at: now })
        .execute();
      return { userId: id, invoiceId: id };
    },
    async createUsers(count, createdAt) {
      const ids = Array.from({ length: count }, () => nextId++);
      const at = `${createdAt}T12:00:00.000Z`;
      for (let i = 0; i < ids.length; i += 500) {
        const rows = ids
          .slice(i, i + 500)
          .map((id) => ({ id, email: `user${id}@example.com`, name: `User ${id}`, created_at: at }));
        await database.db.insertInto('users').values(rows).execute();
      }
      return ids;
    },
    async createExport({ startDate, endDate, sliceSize = 100, onSliceFailure = 'complete' }) {
      const id = nextId++;
      const now = new Date().toISOString();
      await database.db
        .insertInto('exports')
        .values({
          id,
          start_date: startDate,
          end_date: endDate,
          slice_size: sliceSize,
          on_slice_failure: onSliceFailure,
          created_at: now,
          updated_at: now,
        })
        .execute();
      return id;
    },
    async createPayment(amountCents = 1999) {
      const { userId } = await harness.createInvoice();
      await database.db
        .insertInto('payments')
        .values({
          id: userId,
          user_id: userId,
          amount_cents: amountCents,
          currency: 'EUR',
          created_at: new Date().toISOString(),
        })
        .execute();
      return userId;
    },
    async createWebhook(data = { event: 'invoice.paid', amount: 4200 }) {
      const id = nextId++;
      const now = new Date().toISOString();
      await database.db
        .insertInto('webhook_payloads')
        .values({ id, data: JSON.stringify(data), created_at: now, updated_at: now })
        .execute();
      return id;
    },
    async startWorkers(queues = ['default']) {
      const worker = await startWorkerProcess({
        application: testApp,
        settings,
        queues: queues.map((q) => (typeof q === 'string' ? { queue: q, concurrency: 10 } : q)),
        connection: env.nativeConnection,
        client,
        app: { ...app, activities },
        workflowBundle,
        shutdownGraceTime: '5s',
        logger: options.logger ?? pino({ level: 'silent' }),
        maxCachedWorkflows: options.maxCachedWorkflows,
      });
      running = { worker, done: worker.run() };
    },
    async stopWorkers() {
      if (!running) return;
      for (const w of running.worker.workers) if (w.getState() === 'RUNNING') w.shutdown();
      await running.done;
      running = undefined;
    },
    async close() {
      await harness.stopWorkers();
      if (ownEnv) await env.teardown();
      await vendor.stop();
      await gateway.stop();
      await app.close();
      await ownDatabase?.drop();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
  return harness;
}

/**
 * A harness on its own time-skipping test server (see time-skipping-server.ts), with workers on the default queue and
 * a 300 ms vendor timeout unless `options` say otherwise; closing it also stops that server.
 */
export async function createTimeSkippingHarness(options: Omit<HarnessOptions, 'env'> = {}): Promise<Harness> {
  const env = await TestWorkflowEnvironment.createTimeSkipping({
    server: { executable: { type: 'existing-path', path: inject('timeSkippingServerPath') } },
  });
  // The Java test server knows only its predefined search attributes: register ours, as every dev server has them.
  await env.connection.operatorService.addSearchAttributes({
    namespace: env.namespace ?? 'default',
    searchAttributes: Object.fromEntries(
      SEARCH_ATTRIBUTES.map((key) => [key.name, encodeSearchAttributeIndexedValueType(key.type)!]),
    ),
  });
  const harness = await createHarness({ vendorTimeoutMs: 300, ...options, env });
  await harness.startWorkers();
  return {
    ...harness,
    async close() {
      await harness.close();
      await env.teardown();
    },
  };
}

function countCalls<A extends object>(activities: A, calls: Map<string, number>): A {
  const wrapped: Record<string, (...args: any[]) => any> = {};
  for (const [name, fn] of Object.entries(activities) as [string, (...args: any[]) => any][]) {
    wrapped[name] = (...args) => {
      calls.set(name, (calls.get(name) ?? 0) + 1);
      return fn(...args);
    };
  }
  return wrapped as A;
}

/** Polls until `check` returns a value (not undefined), or fails after `timeoutMs`. */
export async function eventually<T>(
  check: () => Promise<T | undefined>,
  timeoutMs = 20_000,
  what = 'condition',
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** A logger whose JSON lines land, parsed, in `lines`: how tests read the job and activity log lines. */
export function capturedLogLines(level = 'info'): { logger: Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(line));
      done();
    },
  });
  return { logger: pino({ level }, sink), lines };
}

/**
 * A webhook run's vendor call as its history shows it. Temporal keeps one ActivityTaskScheduled and the final
 * attempt's ActivityTaskStarted: `waitedMs` between them is every retry delay plus the attempts' own run time.
 */
export async function vendorCallSchedule(
  handle: WorkflowHandle,
): Promise<{ attempt: number; waitedMs: number; activityId: string }> {
  const events = (await handle.fetchHistory()).events ?? [];
  const scheduled = events.find(
    (e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'processWebhook',
  )!;
  const started = events.find(
    (e) => e.activityTaskStartedEventAttributes?.scheduledEventId?.toString() === scheduled.eventId?.toString(),
  )!;
  const ms = (t: typeof scheduled.eventTime) => Number(t!.seconds) * 1000 + Math.floor((t!.nanos ?? 0) / 1e6);
  return {
    attempt: started.activityTaskStartedEventAttributes!.attempt!,
    waitedMs: ms(started.eventTime) - ms(scheduled.eventTime),
    activityId: scheduled.activityTaskScheduledEventAttributes!.activityId!,
  };
}
