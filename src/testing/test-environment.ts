import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { encodeSearchAttributeIndexedValueType } from '@temporalio/common/lib/search-attributes';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { DefaultLogger, makeTelemetryFilterString, Runtime, type LogLevel } from '@temporalio/worker';
import pino, { type Logger } from 'pino';
import type { Application } from '../application';
import { JobClient, type EnqueueOptions, type EnqueueResult } from '../client/client';
import { readSettings, type Settings } from '../config';
import type { OpenDatabase } from '../db/database';
import { readDynamicConfig } from '../dev-server';
import { dataConverterFor } from '../encryption';
import type { DeclaredJob } from '../sandbox/job-definition';
import { PRIORITIES, type Priority } from '../sandbox/queues';
import type { SafeObject } from '../sandbox/safe-arguments';
import { devServerSearchAttributeArgs, SEARCH_ATTRIBUTES } from '../sandbox/search-attributes';
import { resolveTemporalCli } from '../temporal-cli';
import { openApplication } from '../worker/app-resources';
import { startWorkerProcess, type WorkerProcess } from '../worker/worker-process';
import type { QueueCapacity } from '../worker/workers';

/** Which Temporal server a test environment starts (both through `@temporalio/testing`). */
export type TestServerMode = 'dev-server' | 'time-skipping';

export interface TestEnvironmentOptions<Deps extends object = any> {
  /** The application under test: the default export of its `app.ts`. */
  application: Application<Deps>;
  /**
   * `'dev-server'`: a real Temporal server (the Temporal CLI's dev server, in memory), as in production — the default.
   * `'time-skipping'`: Temporal's test server, which skips timers (retry backoffs, sleeps, start delays) whenever
   * nothing else is running, so a job that waits hours finishes in a second.
   */
  mode?: TestServerMode;
  /**
   * Settings over the test's own: by default a fresh task queue prefix, a SQLite database and a mail outbox in a
   * temporary directory (removed on `close()`), and otherwise the library's defaults — the process environment
   * (DATABASE_URL, …) is not read, so a test never touches a real database by accident.
   */
  settings?: Partial<Settings>;
  /** Services handed to the application's activities instead of its own (a fake client, a hook). */
  deps?: Partial<Deps>;
  /** Queues the worker serves. @default every priority, concurrency 10 each */
  queues?: Array<Priority | QueueCapacity>;
  /** Where the worker's job and activity log lines go. @default nowhere */
  logger?: Logger;
  /**
   * The server's executable. For `'dev-server'`: a Temporal CLI, by default the one `jobctl dev` uses
   * (TEMPORAL_CLI_PATH, `temporal` on PATH, or the per-user cache), else one the Temporal SDK downloads. For
   * `'time-skipping'`: the test server, by default one the SDK downloads.
   */
  serverExecutable?: string;
  /**
   * The level of the Temporal SDK's own log lines (worker lifecycle, activity failures it retries), when this
   * environment is the first thing in the process to use the SDK's runtime. @default 'ERROR'
   */
  sdkLogLevel?: LogLevel;
}

export interface TestEnvironment {
  /** The Temporal environment (`@temporalio/testing`): `env.client` is a plain Temporal client of its server. */
  env: TestWorkflowEnvironment;
  /** A job client on the environment's own task queues. */
  client: JobClient;
  /** The application database the worker's activities use, migrated: insert the records a job reads here. */
  database: OpenDatabase;
  /** The settings the worker runs with. */
  settings: Settings;
  /** The worker process running the application's jobs. */
  worker: WorkerProcess;
  /** How many times each activity was called, by name. */
  calls: Map<string, number>;
  /** Enqueues the job and waits for its run's result; a failed run throws (`WorkflowFailedError`). */
  run<Args extends SafeObject>(job: DeclaredJob<Args>, args: NoInfer<Args>, options?: EnqueueOptions): Promise<unknown>;
  /** Waits for a run's result by its workflow ID (what `client.enqueue` returned). */
  result(run: string | Pick<EnqueueResult, 'workflowId'>): Promise<unknown>;
  /** Stops the worker, the server and the database, and removes the temporary directory. */
  close(): Promise<void>;
}

/**
 * A test's own Temporal server, database and worker for an application, the way Temporal's samples test workflows:
 * `TestWorkflowEnvironment` from `@temporalio/testing` (`createLocal`, or `createTimeSkipping`) — a real server, nothing
 * mocked — with a worker process of the application on it (the same `startWorkerProcess` as `jobctl worker`, bundling
 * the application's workflows) and a `JobClient`. Call it in `beforeAll` and `close()` it in `afterAll`.
 *
 * The worker runs what the application's workflows module exports; the test process knows the jobs it imports (their
 * declarations are what `run` and `client.enqueue` take).
 */
export async function createTestEnvironment<Deps extends object>(
  options: TestEnvironmentOptions<Deps>,
): Promise<TestEnvironment> {
  const { application } = options;
  const mode = options.mode ?? 'dev-server';
  if (mode !== 'dev-server' && mode !== 'time-skipping') {
    throw new TypeError(`mode must be 'dev-server' or 'time-skipping', got ${JSON.stringify(mode)}`);
  }
  quietTemporalRuntime(options.sdkLogLevel ?? 'ERROR');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'durable-jobs-test-'));
  const cleanup: Array<() => Promise<unknown>> = [async () => fs.rmSync(dir, { recursive: true, force: true })];
  /** Runs every step, the last added first, even when one throws; then throws the first error. */
  const close = async () => {
    let error: unknown;
    for (const step of cleanup.splice(0).reverse()) {
      try {
        await step();
      } catch (err) {
        error ??= err;
      }
    }
    if (error !== undefined) throw error;
  };
  try {
    const taskQueuePrefix = `test-${randomUUID()}`;
    const own: Settings = {
      ...readSettings({}),
      taskQueuePrefix,
      sqlitePath: path.join(dir, 'app.sqlite'),
      ...options.settings,
    };
    const dataConverter = dataConverterFor(own.encryption);
    const env =
      mode === 'dev-server'
        ? await startDevServer(options.serverExecutable, dataConverter)
        : await startTimeSkippingServer(options.serverExecutable, dataConverter);
    cleanup.push(() => env.teardown());
    const settings: Settings = {
      ...own,
      temporalAddress: env.address,
      temporalNamespace: env.namespace ?? 'default',
    };
    const client = new JobClient({ client: env.client, taskQueuePrefix: settings.taskQueuePrefix });
    const logger = options.logger ?? pino({ level: 'silent' });
    const app = await openApplication(application, settings, {
      jobs: client,
      alertLogger: logger,
      ...(options.deps as Record<string, unknown> | undefined),
    });
    cleanup.push(() => app.close());
    const calls = new Map<string, number>();
    const worker = await startWorkerProcess({
      application,
      settings,
      queues: (options.queues ?? [...PRIORITIES]).map((q) =>
        typeof q === 'string' ? { queue: q, concurrency: 10 } : q,
      ),
      connection: env.nativeConnection,
      client,
      app: { ...app, activities: countCalls(app.activities, calls) },
      logger,
      shutdownGraceTime: '5s',
    });
    cleanup.push(() => worker.close());
    const stop = new AbortController();
    // A worker that fails while the tests run (its runs then time out) says why when the environment is closed.
    let failed: unknown;
    const running = worker.run(stop.signal).catch((err: unknown) => {
      failed = err;
    });
    cleanup.push(async () => {
      stop.abort();
      await running;
      if (failed !== undefined)
        throw new Error(`the worker of the test environment failed: ${String(failed)}`, { cause: failed });
    });

    const result = (run: string | Pick<EnqueueResult, 'workflowId'>) =>
      env.client.workflow.getHandle(typeof run === 'string' ? run : run.workflowId).result();
    return {
      env,
      client,
      database: app.database,
      settings,
      worker,
      calls,
      async run(job, args, enqueueOptions) {
        return result(await client.enqueue(job, args, enqueueOptions));
      },
      result,
      close,
    };
  } catch (err) {
    await close().catch(() => undefined); // the first error is the one to see
    throw err;
  }
}

/** `createLocal` with the Temporal CLI `jobctl dev` uses, the project's search attributes and dynamic config. */
async function startDevServer(
  executable: string | undefined,
  dataConverter: ReturnType<typeof dataConverterFor>,
): Promise<TestWorkflowEnvironment> {
  const cli = executable ?? (await resolveTemporalCli({ build: false }))?.path;
  const dynamicConfig = Object.entries(readDynamicConfig()).flatMap(([key, value]) => [
    '--dynamic-config-value',
    `${key}=${JSON.stringify(value)}`,
  ]);
  return TestWorkflowEnvironment.createLocal({
    server: {
      ...(cli ? { executable: { type: 'existing-path', path: cli } } : {}),
      ip: '127.0.0.1',
      log: { format: 'pretty', level: 'error' },
      extraArgs: [...devServerSearchAttributeArgs(), ...dynamicConfig],
    },
    client: { dataConverter },
  });
}

/** `createTimeSkipping`, with the project's search attributes registered (the test server knows only its own). */
async function startTimeSkippingServer(
  executable: string | undefined,
  dataConverter: ReturnType<typeof dataConverterFor>,
): Promise<TestWorkflowEnvironment> {
  const env = await TestWorkflowEnvironment.createTimeSkipping({
    ...(executable ? { server: { executable: { type: 'existing-path', path: executable } } } : {}),
    client: { dataConverter },
  });
  try {
    await env.connection.operatorService.addSearchAttributes({
      namespace: env.namespace ?? 'default',
      searchAttributes: Object.fromEntries(
        SEARCH_ATTRIBUTES.map((key) => [key.name, encodeSearchAttributeIndexedValueType(key.type)!]),
      ),
    });
    return env;
  } catch (err) {
    await env.teardown();
    throw err;
  }
}

/**
 * Installs the Temporal SDK's runtime with its own log lines at `level`, TypeScript side and Rust core alike, unless
 * something in the process installed or used it already (a process has one runtime).
 */
function quietTemporalRuntime(level: LogLevel): void {
  try {
    Runtime.install({
      logger: new DefaultLogger(level),
      telemetryOptions: { logging: { filter: makeTelemetryFilterString({ core: level, other: level }) } },
    });
  } catch {
    // Already there: keep it.
  }
}

function countCalls(activities: Record<string, unknown>, calls: Map<string, number>): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(activities).map(([name, fn]) => [
      name,
      typeof fn !== 'function'
        ? fn
        : // A named function keeps the activity's name for the SDK's log lines.
          {
            [name](...args: unknown[]) {
              calls.set(name, (calls.get(name) ?? 0) + 1);
              return (fn as (...a: unknown[]) => unknown)(...args);
            },
          }[name],
    ]),
  );
}
