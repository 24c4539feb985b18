import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { InvalidArgumentError, type Command } from 'commander';
import pino from 'pino';
import { createJobLogger } from '../src/instrumentation/logger';
import type { OpenDatabase } from '../src/db/database';
import { PRIORITIES } from '../src/sandbox/queues';
import { JobClient } from '../src/client/client';
import { readSettings, type Settings } from '../src/config';
import { startDevServer } from '../src/dev-server';
import { bundleWorkflows, runWorkers, type QueueCapacity } from '../src/worker/workers';
import { testApp } from '../test/jobs/app';
import { startWorkerProcess } from '../src/worker/worker-process';
import { FakeVendor } from '../src/testing/fake-vendor';

/** Options every scenario accepts. */
export interface CommonOptions {
  json?: boolean;
  /** An existing Temporal frontend; when absent the harness starts its own dev server. */
  address?: string;
  /** Activity (and workflow task) slots of the in-process worker, per queue. */
  concurrency: number;
  /** Dynamic config of the dev server on top of docker/dynamicconfig.yaml (`key=value`; `key=null` removes it). */
  serverConfig?: Record<string, unknown>;
}

/** What a scenario gets: a client whose jobs run on this process's workers, and hooks into them. */
export interface BenchEnvironment {
  client: JobClient;
  /** A client whose jobs run on workers without logging, job metrics or sinks (scenarios with `uninstrumented`). */
  plainClient?: JobClient;
  /** The app's database (SQLite in the run's temp dir), for seeding and checking. */
  database: OpenDatabase;
  /** Unique per run; put it into job ids so runs never collide on a shared server. */
  runId: string;
  /** Listens to noop activity starts in this process; `at` is `performance.now()`. */
  onNoopStarted(listener: (id: string, at: number) => void): void;
  /** Prints `line()` to stderr every second until the returned function is called. */
  progress(line: () => string): () => void;
  /** The run's settings (server address, queue prefix, database file), for worker processes a scenario starts. */
  settings: Settings;
  /** CPU time (user + system) the dev server process has used so far, in ms; undefined with --address. */
  serverCpuMs(): number | undefined;
}

export interface ScenarioOutcome {
  /** Human-readable result lines. */
  lines: string[];
  /** The JSON fields after `scenario`, in output order; numbers are rounded to 1 decimal. */
  metrics: Record<string, number | boolean>;
  /** Verification failures: printed as warnings, and the run exits non-zero. */
  problems: string[];
}

export interface Scenario<Options> {
  name: string;
  description: string;
  /** Adds the scenario's own options to its subcommand. */
  addOptions(command: Command): Command;
  /** Also run uninstrumented workers (on their own queue prefix, default queue) and give `plainClient` for them. */
  uninstrumented?: boolean;
  /** Queues and concurrency of the in-process workers. @default every queue at --concurrency */
  queues?(options: Options & CommonOptions): QueueCapacity[];
  /** False when the scenario runs its own worker processes instead. @default true */
  inProcessWorkers?: boolean;
  run(env: BenchEnvironment, options: Options & CommonOptions): Promise<ScenarioOutcome>;
  /**
   * Set by a scenario that brings up its own environment (the soak runs on `jobctl stack`): the harness then starts no
   * dev server, database or workers, calls this instead of `run`, and only prints the outcome.
   */
  standalone?(options: Options & CommonOptions): Promise<ScenarioOutcome>;
}

export function round1(value: number): number {
  return Math.round(value * 10) / 10;
}

/** Commander parser for positive integer options. */
export function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('Not a positive integer.');
  return n;
}

/** Runs `task(0..count-1)` with at most `limit` calls in flight. */
export async function forEachLimited(
  count: number,
  limit: number,
  task: (index: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  const lane = async () => {
    while (next < count) await task(next++);
  };
  await Promise.all(Array.from({ length: Math.min(limit, count) }, lane));
}

/** Sets up server, app database, workers and client; runs the scenario; prints its outcome; tears everything down. */
export async function runScenario<Options>(
  scenario: Scenario<Options>,
  options: Options & CommonOptions,
): Promise<void> {
  const log = (line: string) => process.stderr.write(`${line}\n`);
  if (scenario.standalone) return printOutcome(scenario, options, await scenario.standalone(options));
  const cleanups: Array<() => Promise<unknown>> = [];
  const cleanup = async () => {
    for (const step of cleanups.splice(0).reverse()) await step().catch((err) => log(`cleanup: ${String(err)}`));
  };
  // On a signal the Temporal runtime shuts the workers down; we stop the dev server and remove the temp dir, then exit.
  // No orderly teardown here: Ctrl-C reaches the server too, and closing a client whose calls are retrying against a
  // dead server throws from a timer. npm and tsx forward signals, so a second one just waits for the first.
  let interrupted: Promise<void> | undefined;
  const onSignal = (signal: NodeJS.Signals) => {
    log(`${signal}: stopping`);
    server?.expectExit();
    interrupted ??= Promise.allSettled([server?.stop()])
      .then(() => removeTempDir())
      .finally(() => process.exit(130));
  };
  process.on('SIGINT', onSignal).on('SIGTERM', onSignal);

  let outcome: ScenarioOutcome;
  let server: OwnServer | undefined;
  let removeTempDir = async () => {};
  try {
    const runId = randomBytes(4).toString('hex');
    const tempDir = await fs.mkdtemp(path.join(os.tmpdir(), `bench-${runId}-`));
    removeTempDir = () => fs.rm(tempDir, { recursive: true, force: true });
    cleanups.push(removeTempDir);

    // Started early to overlap the server's start; not at all when the scenario runs its own worker processes.
    const bundle =
      scenario.inProcessWorkers === false ? undefined : bundleWorkflows({ workflowsPath: testApp.workflowsPath });
    bundle?.catch(() => {}); // awaited below; this only keeps an early failure elsewhere from leaving it unhandled
    let settings: Settings = {
      ...readSettings(),
      taskQueuePrefix: `bench-${runId}`,
      databaseUrl: undefined,
      sqlitePath: path.join(tempDir, 'app.sqlite'),
    };
    // The example application's services read their settings from the environment (activities/services/settings.ts),
    // here and in the worker processes a scenario spawns.
    process.env.JOBS_MAIL_OUTBOX_DIR = path.join(tempDir, 'outbox');
    if (options.address) {
      settings = { ...settings, temporalAddress: options.address };
    } else {
      log('Starting Temporal dev server…');
      const started = await startOwnServer(path.join(tempDir, 'temporal.sqlite'), options.serverConfig);
      if (options.serverConfig) log(`Server dynamic config overrides: ${JSON.stringify(options.serverConfig)}`);
      server = started;
      cleanups.push(() => started.stop());
      settings = {
        ...settings,
        temporalAddress: started.address,
        temporalNamespace: started.namespace,
        temporalTls: false,
        temporalApiKey: undefined,
      };
    }
    log(
      `Temporal at ${settings.temporalAddress}, task queues ${settings.taskQueuePrefix}-*, ` +
        `worker concurrency ${options.concurrency}`,
    );

    // Local fakes of the external services, so jobs that call them run as they would against the real ones.
    const vendor = new FakeVendor();
    const gateway = new FakeVendor({ path: '/v1/charges' });
    process.env.VENDOR_API_URL = await vendor.start();
    process.env.PAYMENT_GATEWAY_URL = await gateway.start();
    cleanups.push(
      () => vendor.stop(),
      () => gateway.stop(),
    );

    let noopListener: ((id: string, at: number) => void) | undefined;
    // Job log lines go to a file, as a worker's would go to its log pipeline: stdout stays for the results.
    const logger = createJobLogger({
      destination: pino.destination({ dest: path.join(tempDir, 'worker.log'), sync: false }),
    });
    const inProcess = await startWorkerProcess({
      application: testApp,
      settings,
      // None when the scenario runs its own worker processes: it only needs the client and the database from here.
      queues:
        scenario.inProcessWorkers === false
          ? []
          : (scenario.queues?.(options) ?? PRIORITIES.map((queue) => ({ queue, concurrency: options.concurrency }))),
      deps: { onNoopStarted: (id: string) => noopListener?.(id, performance.now()) },
      logger,
      workflowBundle: bundle && (await bundle),
    });
    cleanups.push(() => inProcess.close());
    const { client, workers } = inProcess;
    let plainClient: JobClient | undefined;
    if (scenario.uninstrumented) {
      const prefix = `${settings.taskQueuePrefix}-plain`;
      plainClient = new JobClient({ client: client.temporal, taskQueuePrefix: prefix });
      const plain = await startWorkerProcess({
        application: testApp,
        settings: { ...settings, taskQueuePrefix: prefix },
        queues: [{ queue: 'default', concurrency: options.concurrency }],
        connection: inProcess.connection,
        client,
        app: inProcess.app,
        workflowBundle: await bundleWorkflows({ workflowsPath: testApp.workflowsPath, instrumentation: false }),
        instrumentation: false,
      });
      workers.push(...plain.workers);
    }
    const abort = new AbortController();
    // A worker that fails mid-run is reported here; its jobs then show up as missing when the scenario times out.
    const running =
      workers.length === 0
        ? Promise.resolve()
        : runWorkers(workers, abort.signal).catch((err) => log(`worker failed: ${String(err)}`));
    cleanups.push(() => (abort.abort(), running));

    const run = scenario.run(
      {
        client,
        plainClient,
        database: inProcess.app.database,
        runId,
        onNoopStarted: (listener) => (noopListener = listener),
        settings,
        serverCpuMs: () => (server?.process?.pid === undefined ? undefined : processCpuMs(server.process.pid)),
        progress(line) {
          const timer = setInterval(() => log(`[${scenario.name}] ${line()}`), 1000);
          return () => clearInterval(timer);
        },
      },
      options,
    );
    outcome = await (server ? Promise.race([run, server.died]) : run);
  } catch (err) {
    if (!(err instanceof ServerDiedError)) throw err;
    // Pending client calls retry on timers and throw once their channel is closed, so skip the orderly teardown.
    log(err.message);
    await removeTempDir();
    process.exit(1);
  } finally {
    await cleanup();
    process.removeListener('SIGINT', onSignal).removeListener('SIGTERM', onSignal);
  }
  printOutcome(scenario, options, outcome);
}

/** The outcome's lines (stderr with --json), its warnings, the JSON line; a non-zero exit code when it has problems. */
function printOutcome<Options>(
  scenario: Scenario<Options>,
  options: Options & CommonOptions,
  outcome: ScenarioOutcome,
): void {
  const log = (line: string) => process.stderr.write(`${line}\n`);
  // With --json, stdout carries only the JSON line; the human summary goes to stderr.
  const human = options.json ? log : (line: string) => process.stdout.write(`${line}\n`);
  outcome.lines.forEach((line) => human(line));
  for (const problem of outcome.problems) log(`WARNING: ${problem}`);
  if (options.json) {
    const metrics = Object.fromEntries(
      Object.entries(outcome.metrics).map(([key, value]) => [key, typeof value === 'number' ? round1(value) : value]),
    );
    process.stdout.write(`${JSON.stringify({ scenario: scenario.name, ...metrics })}\n`);
  }
  if (outcome.problems.length > 0) process.exitCode = 1;
}

class ServerDiedError extends Error {}

type OwnServer = Awaited<ReturnType<typeof startOwnServer>>;

/** Starts a headless dev server on free ports; `died` rejects if it exits unexpectedly, with its last output. */
async function startOwnServer(dbFilename: string, dynamicConfig?: Record<string, unknown>) {
  const server = await startDevServer({ port: 0, headless: true, dbFilename, dynamicConfig });
  let output = '';
  const keep = (chunk: Buffer) => (output = (output + chunk.toString()).slice(-4000));
  server.process?.stdout?.on('data', keep);
  server.process?.stderr?.on('data', keep);
  let stopping = false;
  const died = new Promise<never>((_, reject) =>
    server.process?.once('exit', (code, signal) => {
      if (!stopping)
        reject(
          new ServerDiedError(
            `Temporal dev server exited (${signal ?? `code ${code}`}) during the benchmark.` +
              `${output ? ` Its last output:\n${output}` : ''}`,
          ),
        );
    }),
  );
  died.catch(() => {});
  return {
    ...server,
    died,
    expectExit: () => void (stopping = true),
    stop: () => ((stopping = true), server.stop()),
  };
}

/** Clock ticks per second of /proc/<pid>/stat's CPU times (USER_HZ: 100 on Linux). */
const USER_HZ = 100;

/** CPU time (user + system) a process has used, in ms, from /proc (Linux); undefined elsewhere. */
export function processCpuMs(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces) in parentheses: utime and stime are the 12th and 13th.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / USER_HZ;
  } catch {
    return undefined;
  }
}

/** Node's arguments that run jobctl from this repository's TypeScript sources through tsx (no build needed). */
export const JOBCTL_NODE_ARGS = [
  '--require',
  require.resolve('tsx/cjs'),
  path.resolve(__dirname, '../src/cli/jobctl.ts'),
];

/**
 * A `jobctl worker` process (the command users deploy) on the run's server and database, serving `queues` (e.g.
 * `default:10`) under the task queue `prefix`, with the workflow bundle from `bundleFile`; resolves once it serves.
 */
export async function startWorkerChild(
  settings: { temporalAddress: string; temporalNamespace: string; sqlitePath: string },
  prefix: string,
  queues: string,
  bundleFile: string,
) {
  const child: ChildProcess = spawn(process.execPath, [...JOBCTL_NODE_ARGS, 'worker', '--queues', queues], {
    stdio: ['ignore', 'ignore', 'pipe'], // job log lines (stdout) would only cost the terminal
    env: {
      ...process.env,
      TEMPORAL_ADDRESS: settings.temporalAddress,
      TEMPORAL_NAMESPACE: settings.temporalNamespace,
      JOBS_TASK_QUEUE_PREFIX: prefix,
      JOBS_SQLITE_PATH: settings.sqlitePath,
      JOBS_WORKFLOW_BUNDLE: bundleFile,
    },
  });
  let stderr = '';
  child.stderr!.on('data', (c: Buffer) => (stderr = (stderr + c.toString()).slice(-4000)));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const ready = await Promise.race([
    new Promise<boolean>((resolve) => {
      const check = () => (stderr.includes('serving') ? resolve(true) : setTimeout(check, 100));
      check();
    }),
    exited.then(() => false),
  ]);
  if (!ready) throw new Error(`a worker process exited before serving:\n${stderr}`);
  return {
    process: child,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      await exited;
    },
  };
}

/** Resident memory of a process now (`VmRSS`), or its peak so far (`VmHWM`), in MB; 0 when it cannot be read. */
export function residentMb(pid: number, which: 'VmRSS' | 'VmHWM' = 'VmRSS'): number {
  try {
    const match = new RegExp(`${which}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) / 1024 : 0;
  } catch {
    return 0;
  }
}
