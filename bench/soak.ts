import { migrations } from '../activities/services/migrations';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { InvalidArgumentError, type Command } from 'commander';
import type { temporal } from '@temporalio/proto';
import { invoiceGeneration, largeDataExport, processPayment, processWebhook } from '../test/jobs';
import { JobClient } from '../src/client/client';
import { readSettings } from '../src/config';
import { openDatabase, type OpenDatabase } from '../src/db/database';
import { formatDuration } from '../src/format';
import type { DeclaredJob } from '../src/sandbox/job-definition';
import { percentile } from '../src/percentile';
import { decideRetry, type RetryTable } from '../src/sandbox/retry-rules';
import { startLocalPostgres, type RunningPostgres } from '../src/stack/postgres';
import { ManagedProcess } from '../src/stack/processes';
import { servicePorts } from '../src/stack/server-config';
import { startStack, type Stack } from '../src/stack/stack';
import { FakeVendor, type FaultKind, type VendorRequest } from '../src/testing/fake-vendor';
import { bundleWorkflows } from '../src/worker/workers';
import { testApp } from '../test/jobs/app';
import { JOBCTL_NODE_ARGS, positiveInt, type Scenario, type ScenarioOutcome } from './harness';
import { checkSoak, describeEffects, EFFECT_KINDS, type EffectKind, type FaultCounts } from './soak-check';

export interface SoakOptions {
  /** Length of the load phase, in minutes (fractions allowed). @default 2 */
  minutes: number;
  /** Jobs per second of the mixed load; when absent, 70% of the capacity measured first. */
  rate?: number;
  /** Seconds between SIGKILLs of a random worker. @default 60, or a quarter of the run when shorter */
  killEvery?: number;
  /** Seconds between restarts of the history service. @default 180, or half the run when shorter */
  historyRestartEvery?: number;
  /** Second of the run at which PostgreSQL restarts (once); 0 for never. @default three quarters of the run */
  postgresRestartAt?: number;
  /** How long to wait after the load for every job to finish, in seconds. @default 300 */
  settle: number;
  /** Share of vendor and gateway requests that fail. @default 0.1 */
  faultRate: number;
  /** Seed of the fault draws and of the choice of worker to kill. @default 1 */
  seed: number;
  /** Exports started during the run. @default 3 */
  exports: number;
  /** Users in each export. @default 2000 */
  exportUsers: number;
  /** `jobctl worker` processes. @default 3 */
  workers: number;
  /** Jobs of the capacity measurement (unless --rate). @default 150 */
  measureJobs: number;
  /** Keep the stack's data directory (logs, PostgreSQL) afterwards. @default only when the soak fails */
  keepData?: boolean;
  /**
   * Negative control: the fake vendor applies every n-th webhook payload twice when it first applies it (a vendor
   * whose idempotency broke). The soak must then fail, naming those payloads.
   */
  applyTwice?: number;
}

/** Shares of the mixed load; exports come on a schedule of their own. */
const MIX = { invoice: 0.5, payment: 0.25, webhook: 0.25 } as const;
type Kind = keyof typeof MIX | 'export';
const JOB_OF: Record<Kind, DeclaredJob<any>> = {
  invoice: invoiceGeneration,
  payment: processPayment,
  webhook: processWebhook,
  export: largeDataExport,
};
/** The rate-limited calls' own limits (their job declarations): the load stays at 70% of them too. */
const KIND_CAP: Partial<Record<Kind, number>> = {
  webhook: 0.7 * (processWebhook.rateLimits?.processWebhook?.perSecond ?? Infinity),
  payment: 0.7 * (processPayment.rateLimits?.chargePayment?.perSecond ?? Infinity),
};
/** The vendor's answers and the error type the client turns each into. */
const FAULT_ERROR_TYPE: Record<FaultKind, string | undefined> = {
  ok: undefined,
  timeout: 'NetworkTimeout',
  rate_limit: 'RateLimited',
  client_error: 'ClientError',
  server_error: 'ServerError',
  reset: 'ConnectionFailed',
};
const EXPORT_SLICE = 250;

interface JobRecord {
  kind: Kind;
  recordId: number;
  workflowId: string;
  /** `Date.now()` just before the enqueue call that succeeded. */
  enqueuedAt: number;
  /** Part of the capacity measurement, not of the soak's load (no latency figure). */
  measuring: boolean;
}

const wholeNumber = (what: string) => (value: string) => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`${what} must be a whole number ≥ 0.`);
  return n;
};

const number = (what: string, min: number) => (value: string) => {
  const n = Number(value);
  if (!Number.isFinite(n) || n < min) throw new InvalidArgumentError(`${what} must be a number ≥ ${min}.`);
  return n;
};

/**
 * The soak under faults (issue 18, part 3): `jobctl stack` on a temp directory and free ports, three `jobctl worker`
 * processes, a mixed load at 70% of capacity, and meanwhile workers SIGKILLed, the history service and PostgreSQL
 * restarted. Then it checks that every job completed or died as its retry table says, and that no effect happened twice.
 */
export const soak: Scenario<SoakOptions> = {
  name: 'soak',
  description:
    'jobctl stack under faults: mixed load at 70% of capacity while workers are SIGKILLed and the history service ' +
    'and PostgreSQL restart; checks nothing is lost or applied twice (ignores --address, --concurrency, ' +
    '--server-config)',
  addOptions: (command: Command) =>
    command
      .option('--minutes <n>', 'length of the load phase (fractions allowed)', number('--minutes', 0.25), 2)
      .option(
        '--rate <jobs/s>',
        'jobs per second of the mixed load (default: 70% of the capacity measured first)',
        number('--rate', 0.1),
      )
      .option(
        '--kill-every <s>',
        'seconds between SIGKILLs of a random worker (default 60, or a quarter of the run)',
        number('--kill-every', 1),
      )
      .option(
        '--history-restart-every <s>',
        'seconds between restarts of the history service (default 180, or half the run)',
        number('--history-restart-every', 1),
      )
      .option(
        '--postgres-restart-at <s>',
        'second of the run at which PostgreSQL restarts once; 0: never (default: three quarters of the run)',
        number('--postgres-restart-at', 0),
      )
      .option('--settle <s>', 'after the load, wait this long at most for every job to finish', positiveInt, 300)
      .option(
        '--fault-rate <fraction>',
        'share of vendor and gateway requests that fail',
        number('--fault-rate', 0),
        0.1,
      )
      .option('--seed <n>', 'seed of the faults and of which worker is killed', positiveInt, 1)
      .option('--exports <n>', 'exports started during the run (0: none)', wholeNumber('--exports'), 3)
      .option('--export-users <n>', 'users in each export', positiveInt, 2000)
      .option('--workers <n>', 'jobctl worker processes', positiveInt, 3)
      .option('--measure-jobs <n>', 'jobs of the capacity measurement (unless --rate)', positiveInt, 150)
      .option('--keep-data', 'keep the stack directory (logs, PostgreSQL data) even when the soak passes')
      .option(
        '--apply-twice <n>',
        'negative control: the fake vendor delivers every n-th webhook payload twice; the soak must fail naming them',
        positiveInt,
      ),
  inProcessWorkers: false,
  run: () => Promise.reject(new Error('the soak runs standalone')),
  standalone: (options) => runSoak(options),
};

async function runSoak(options: SoakOptions): Promise<ScenarioOutcome> {
  const log = (line: string) => process.stderr.write(`${line}\n`);
  if (options.faultRate > 1) throw new InvalidArgumentError('--fault-rate must be at most 1');
  const durationMs = options.minutes * 60_000;
  const killEveryMs = (options.killEvery ?? Math.min(60, options.minutes * 15)) * 1000;
  const historyEveryMs = (options.historyRestartEvery ?? Math.min(180, options.minutes * 30)) * 1000;
  const postgresAtMs = (options.postgresRestartAt ?? options.minutes * 45) * 1000;
  const random = mulberry32(options.seed * 7919);

  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'soak-'));
  // Run as root, PostgreSQL runs as the postgres user (src/stack/postgres.ts), which must reach its directory in here.
  fs.chmodSync(dataDir, 0o755);
  const { port, postgresPort } = await freePorts();
  // Effects are counted per record whatever the key: per payload (its body) at the vendor, per payment at the gateway.
  let firstDeliveries = 0;
  const vendor = new FakeVendor({
    applyTwice: options.applyTwice ? () => ++firstDeliveries % options.applyTwice! === 0 : undefined,
  });
  const gateway = new FakeVendor({
    path: '/v1/charges',
    recordOf: (body) => `payment ${String((JSON.parse(body) as { paymentId?: unknown }).paymentId)}`,
  });
  const vendorUrl = await vendor.start(0);
  const gatewayUrl = await gateway.start(0);

  let stack: Stack | undefined;
  let postgres: RunningPostgres | undefined;
  let client: JobClient | undefined;
  const workers = new Set<ManagedProcess>();
  let workerSeq = 0;
  let stopping = false;
  const crashes: string[] = [];
  const killAll = () => {
    for (const w of workers) w.killNow();
    stack?.killNow();
    postgres?.process.kill('SIGKILL');
  };
  process.once('exit', killAll);
  const onSignal = (signal: NodeJS.Signals) => {
    log(`${signal}: killing the soak's processes (data kept in ${dataDir})`);
    killAll();
    process.exit(130);
  };
  process.once('SIGINT', onSignal).once('SIGTERM', onSignal);

  let passed = false;
  try {
    log(`Soak: stack in ${dataDir}, frontend :${port}, PostgreSQL :${postgresPort}`);
    stack = await startStack({
      dataDir,
      port,
      postgresPort,
      workers: 0,
      log: (line) => log(`  ${line}`),
      onUnexpectedExit: (name, code, signal) => {
        if (!stopping) crashes.push(`${name} exited (${signal ?? `code ${code}`})`);
      },
    });
    postgres = stack.postgres;
    const bundleFile = path.join(dataDir, 'workflow-bundle.js');
    fs.writeFileSync(bundleFile, (await bundleWorkflows({ workflowsPath: testApp.workflowsPath })).code);
    const workerEnv: NodeJS.ProcessEnv = {
      ...stack.env,
      VENDOR_API_URL: vendorUrl,
      PAYMENT_GATEWAY_URL: gatewayUrl,
      JOBS_WORKFLOW_BUNDLE: bundleFile,
    };

    /** Workers that said they serve: the kill's victims (one killed while still starting would prove nothing). */
    const serving = new WeakSet<ManagedProcess>();
    /** Starts a `jobctl worker`; resolves once it serves. A worker that dies on its own is replaced, as a supervisor would. */
    const startWorker = (): Promise<void> => {
      const name = `worker-${++workerSeq}`;
      let markReady!: () => void;
      const ready = new Promise<void>((resolve) => (markReady = resolve));
      const worker = new ManagedProcess({
        name,
        command: process.execPath,
        args: [...JOBCTL_NODE_ARGS, 'worker'],
        env: workerEnv,
        logFile: path.join(stack!.logDir, `${name}.log`),
        stopSignal: 'SIGINT',
        onLine: (line) => {
          if (!line.startsWith('jobctl worker: serving')) return;
          serving.add(worker);
          markReady();
        },
        onUnexpectedExit: (n, code, signal) => {
          workers.delete(worker);
          if (stopping) return;
          crashes.push(`${n} exited on its own (${signal ?? `code ${code}`})`);
          log(`  ${n} exited on its own (${signal ?? `code ${code}`}); starting a replacement`);
          setTimeout(() => void startWorker(), 1000);
        },
      });
      worker.start();
      workers.add(worker);
      return Promise.race([
        ready,
        worker.whenExited().then(() => {
          throw new Error(`${name} exited before it served (log: ${worker.options.logFile})`);
        }),
      ]);
    };
    log(`Starting ${options.workers} worker processes…`);
    await Promise.all(Array.from({ length: options.workers }, () => startWorker()));

    client = await JobClient.connect({
      ...readSettings(),
      temporalAddress: stack.address,
      temporalNamespace: stack.namespace,
      temporalTls: false,
      temporalApiKey: undefined,
    });
    const jobClient = client;

    // Rows for every job: seeded once the rate is known (the measurement's own rows first).
    const ids: Record<Kind, number[]> = { invoice: [], payment: [], webhook: [], export: [] };
    /** Each webhook payload's own token in its body, to tell a payload sent under two keys. */
    let webhookToken = 0;
    const seed = async (counts: Partial<Record<Kind, number>>) => {
      await withDatabase(stack!.databaseUrl, async ({ db }) => {
        const now = new Date().toISOString();
        for (const [kind, count] of Object.entries(counts) as [Kind, number][]) {
          for (let done = 0; done < count; done += 1000) {
            const n = Math.min(1000, count - done);
            const rows = Array.from({ length: n }, (_, i) => i + done);
            let inserted: Array<{ id: number }>;
            if (kind === 'invoice')
              inserted = await db
                .insertInto('invoices')
                .values(rows.map((i) => ({ user_id: 1, amount_cents: 1000 + i, currency: 'EUR', created_at: now })))
                .returning('id')
                .execute();
            else if (kind === 'payment')
              inserted = await db
                .insertInto('payments')
                .values(rows.map((i) => ({ user_id: 1, amount_cents: 500 + i, currency: 'EUR', created_at: now })))
                .returning('id')
                .execute();
            else
              inserted = await db
                .insertInto('webhook_payloads')
                .values(
                  rows.map(() => ({
                    data: JSON.stringify({ event: 'invoice.paid', soak: ++webhookToken }),
                    created_at: now,
                    updated_at: now,
                  })),
                )
                .returning('id')
                .execute();
            ids[kind].push(...inserted.map((r) => Number(r.id)));
          }
        }
      });
    };
    const next: Record<Kind, number> = { invoice: 0, payment: 0, webhook: 0, export: 0 };
    const jobs: JobRecord[] = [];
    let enqueueRetries = 0;
    let loadWebhooks = 0;
    let scriptedDead = 0;
    const scriptedIds = new Set<number>();
    const enqueueFailures: string[] = [];
    const enqueue = async (kind: Kind, measuring: boolean): Promise<JobRecord | undefined> => {
      const recordId = ids[kind][next[kind]++];
      if (recordId === undefined) throw new Error(`no seeded ${kind} rows left`);
      // Every 50th webhook of the load meets a vendor that rejects it twice: the table discards it (dead as designed).
      if (kind === 'webhook' && !measuring && ++loadWebhooks % 50 === 0) {
        vendor.script(`webhook-payload/${recordId}`, ['client_error', 'client_error']);
        scriptedDead++;
        scriptedIds.add(recordId);
      }
      const args =
        kind === 'invoice'
          ? { invoiceId: recordId }
          : kind === 'payment'
            ? { paymentId: recordId }
            : kind === 'webhook'
              ? { webhookPayloadId: recordId }
              : { exportId: recordId };
      const deadline = Date.now() + 120_000;
      for (;;) {
        const enqueuedAt = Date.now();
        try {
          // The same record gives the same workflow ID (USE_EXISTING): retrying an enqueue that failed never runs it twice.
          const { workflowId } = await jobClient.enqueue(JOB_OF[kind], args);
          const record = { kind, recordId, workflowId, enqueuedAt, measuring };
          jobs.push(record);
          return record;
        } catch (err) {
          if (Date.now() > deadline) {
            enqueueFailures.push(`${kind} ${recordId}: ${String(err)}`);
            return undefined;
          }
          enqueueRetries++;
          await sleep(500);
        }
      }
    };

    // 1. Capacity, or the rate given.
    let rate: number;
    let capacity: number | undefined;
    if (options.rate) {
      rate = options.rate;
      log(`Rate: ${rate} jobs/s (--rate)`);
    } else {
      const m = options.measureJobs;
      const counts = {
        invoice: Math.round(m * MIX.invoice),
        payment: Math.round(m * MIX.payment),
        webhook: m - Math.round(m * MIX.invoice) - Math.round(m * MIX.payment),
      };
      await seed(counts);
      log(`Measuring capacity: ${m} jobs (${JSON.stringify(counts)}), no faults yet…`);
      const kinds = (Object.keys(counts) as Array<keyof typeof counts>).flatMap((k) =>
        Array.from({ length: counts[k] }, () => k),
      );
      const started = Date.now();
      const done: Array<Promise<unknown>> = [];
      await lanes(kinds, 20, async (kind) => {
        const record = await enqueue(kind, true);
        if (record)
          done.push(
            jobClient.temporal.workflow
              .getHandle(record.workflowId)
              .result()
              .catch(() => undefined),
          );
      });
      await Promise.all(done);
      capacity = m / ((Date.now() - started) / 1000);
      rate = 0.7 * capacity;
      log(`Capacity ${capacity.toFixed(1)} jobs/s → load at 70%: ${rate.toFixed(1)} jobs/s`);
    }
    const perSecond: Record<keyof typeof MIX, number> = {
      invoice: Math.min(rate * MIX.invoice, KIND_CAP.invoice ?? Infinity),
      payment: Math.min(rate * MIX.payment, KIND_CAP.payment ?? Infinity),
      webhook: Math.min(rate * MIX.webhook, KIND_CAP.webhook ?? Infinity),
    };
    log(
      `Load: ${Object.entries(perSecond)
        .map(([k, v]) => `${k} ${v.toFixed(1)}/s`)
        .join(', ')}, ${options.exports} exports of ${options.exportUsers} users, for ${formatDuration(durationMs)}`,
    );

    // 2. Rows for the load (10% spare), and the exports' users: each export its own creation day, so it finds only them.
    await seed(
      Object.fromEntries(
        Object.entries(perSecond).map(([k, v]) => [k, Math.ceil(v * (durationMs / 1000) * 1.1) + 10]),
      ) as Record<Kind, number>,
    );
    const exportUsers = new Map<number, Set<number>>();
    await withDatabase(stack.databaseUrl, async ({ db }) => {
      const now = new Date().toISOString();
      for (let e = 0; e < options.exports; e++) {
        const day = `2031-01-${String(e + 1).padStart(2, '0')}`;
        const users = new Set<number>();
        for (let done = 0; done < options.exportUsers; done += 1000) {
          const n = Math.min(1000, options.exportUsers - done);
          const rows = await db
            .insertInto('users')
            .values(
              Array.from({ length: n }, (_, i) => ({
                email: `soak-${e}-${done + i}@example.com`,
                name: `Soak ${e}/${done + i}`,
                created_at: `${day}T12:00:00.000Z`,
              })),
            )
            .returning('id')
            .execute();
          for (const r of rows) users.add(Number(r.id));
        }
        const { id } = await db
          .insertInto('exports')
          .values({ start_date: day, end_date: day, slice_size: EXPORT_SLICE, created_at: now, updated_at: now })
          .returning('id')
          .executeTakeFirstOrThrow();
        ids.export.push(Number(id));
        exportUsers.set(Number(id), users);
      }
    });

    // 3. Faults on the vendor and the gateway from now on. Retry-After of 2 s and answers held 6 s (the client gives up
    // after 5 s), so retries stay within minutes; the gateway only fails transiently, so every payment should complete.
    const each = options.faultRate / 5;
    vendor.randomFaults({
      seed: options.seed,
      weights: {
        ok: 1 - options.faultRate,
        timeout: each,
        rate_limit: each,
        client_error: each,
        server_error: each,
        reset: each,
      },
      timeoutDelayMs: 6000,
      retryAfterSeconds: 2,
    });
    const each3 = options.faultRate / 3;
    gateway.randomFaults({
      seed: options.seed + 1,
      weights: { ok: 1 - options.faultRate, timeout: each3, server_error: each3, reset: each3 },
      timeoutDelayMs: 6000,
    });

    // 4. The load and the faults, side by side.
    const faults: FaultCounts = { kills: 0, historyRestarts: 0, postgresRestarts: 0 };
    const events: Array<{ at: number; what: 'kill' | 'history' | 'postgres' }> = [];
    for (let at = killEveryMs; at < durationMs; at += killEveryMs) events.push({ at, what: 'kill' });
    for (let at = historyEveryMs; at < durationMs; at += historyEveryMs) events.push({ at, what: 'history' });
    if (postgresAtMs > 0 && postgresAtMs < durationMs) events.push({ at: postgresAtMs, what: 'postgres' });
    events.sort((a, b) => a.at - b.at);
    const scheduled: FaultCounts = {
      kills: events.filter((e) => e.what === 'kill').length,
      historyRestarts: events.filter((e) => e.what === 'history').length,
      postgresRestarts: events.filter((e) => e.what === 'postgres').length,
    };
    log(
      `Faults: worker SIGKILL every ${killEveryMs / 1000} s, history restart every ${historyEveryMs / 1000} s, ` +
        `PostgreSQL restart ${postgresAtMs > 0 && postgresAtMs < durationMs ? `at ${postgresAtMs / 1000} s` : 'never'}; ` +
        `vendor fault rate ${options.faultRate}`,
    );
    const loadStart = Date.now();
    const elapsed = () => ((Date.now() - loadStart) / 1000).toFixed(0).padStart(4);
    const faultLoop = (async () => {
      for (const event of events) {
        await sleep(loadStart + event.at - Date.now());
        if (event.what === 'kill') {
          // No serving worker (the replacements still starting): wait for one, up to a minute, rather than skip the
          // kill. Only serving ones: a worker SIGKILLed before it served would count as one that died on its own.
          const servingNow = () => [...workers].filter((w) => w.running && serving.has(w));
          let alive = servingNow();
          for (const waitUntil = Date.now() + 60_000; alive.length === 0 && Date.now() < waitUntil;) {
            await sleep(250);
            alive = servingNow();
          }
          const victim = alive[Math.floor(random() * alive.length)];
          if (!victim) {
            log(`[${elapsed()} s] no serving worker to SIGKILL for a minute: kill not done`);
            continue;
          }
          workers.delete(victim);
          await victim.kill();
          faults.kills++;
          log(`[${elapsed()} s] SIGKILLed ${victim.name} (pid ${victim.pid}); starting a replacement`);
          void startWorker().catch((err) => crashes.push(String(err)));
        } else if (event.what === 'history') {
          const history = stack!.services.history;
          const t = Date.now();
          await history.stop();
          history.start();
          await waitForPort(servicePorts(port).history.grpc, 60_000);
          faults.historyRestarts++;
          log(`[${elapsed()} s] restarted the history service (${((Date.now() - t) / 1000).toFixed(1)} s)`);
        } else {
          const t = Date.now();
          await postgres!.stop();
          postgres = await startLocalPostgres({
            dataDir: path.join(dataDir, 'postgres'),
            port: postgresPort,
            logFile: path.join(stack!.logDir, 'postgres.log'),
            log: () => undefined,
          });
          faults.postgresRestarts++;
          log(`[${elapsed()} s] restarted PostgreSQL (${((Date.now() - t) / 1000).toFixed(1)} s)`);
        }
      }
    })();
    const exportTimes = Array.from({ length: options.exports }, (_, i) => (i * durationMs) / options.exports);
    const pending: Array<Promise<unknown>> = [];
    const owed: Record<Kind, number> = { invoice: 0, payment: 0, webhook: 0, export: 0 };
    const progress = setInterval(
      () =>
        log(
          `[${elapsed()} s] enqueued ${jobs.length}, workers ${[...workers].filter((w) => w.running).length}, ` +
            `kills ${faults.kills}, history restarts ${faults.historyRestarts}, PostgreSQL restarts ${faults.postgresRestarts}`,
        ),
      10_000,
    );
    let inFlight = 0;
    try {
      for (let tick = 0; Date.now() - loadStart < durationMs; tick++) {
        for (const kind of Object.keys(perSecond) as Array<keyof typeof MIX>) {
          owed[kind] += perSecond[kind] / 10;
          // An open loop, but bounded: enqueue calls stuck on a restarting server do not pile up without end.
          while (owed[kind] >= 1 && inFlight < 200) {
            owed[kind]--;
            inFlight++;
            pending.push(enqueue(kind, false).finally(() => inFlight--));
          }
        }
        while (exportTimes.length > 0 && Date.now() - loadStart >= exportTimes[0]!) {
          exportTimes.shift();
          pending.push(enqueue('export', false));
        }
        await sleep(loadStart + (tick + 1) * 100 - Date.now());
      }
      await faultLoop;
      await Promise.all(pending);
    } finally {
      clearInterval(progress);
    }
    const loadSeconds = (Date.now() - loadStart) / 1000;

    // 5. Settle: until no job runs (visibility), or the deadline.
    log(`Load done (${jobs.length} jobs enqueued); waiting up to ${options.settle} s for them to finish…`);
    const settleStart = Date.now();
    for (;;) {
      let running: number | undefined;
      try {
        running = (await jobClient.temporal.workflow.count("ExecutionStatus = 'Running'")).count;
      } catch {
        running = undefined;
      }
      if (running === 0 || Date.now() - settleStart > options.settle * 1000) break;
      log(`  ${running ?? '?'} running…`);
      await sleep(5000);
    }
    const settleSeconds = (Date.now() - settleStart) / 1000;

    // 6. Verify: each job's outcome, then every effect.
    const verdict = await verify(jobClient, stack.databaseUrl, jobs, vendor, gateway, exportUsers, scriptedIds);
    const check = checkSoak({
      effects: verdict.effects,
      scriptedDead,
      deadAsDesigned: verdict.deadAsDesigned,
      dead: verdict.deadEffects,
      scheduled,
      done: faults,
    });
    const latencies = verdict.latencies;
    const p50 = percentile(latencies, 50);
    const p95 = percentile(latencies, 95);
    const enqueuedBy = countBy(jobs, (j) => j.kind);
    const problems = [...verdict.problems, ...check.problems];
    if (enqueueFailures.length > 0)
      problems.push(
        `${enqueueFailures.length} enqueue calls failed for 2 minutes: ${enqueueFailures.slice(0, 5).join('; ')}`,
      );
    if (crashes.length > 0) problems.push(`processes exited on their own: ${crashes.join('; ')}`);
    const duplicates = Object.values(check.duplicates).reduce((a, d) => a + d.surplus, 0);
    passed = problems.length === 0;
    const lines = [
      `soak: ${formatDuration(loadSeconds * 1000)} of load at ${rate.toFixed(1)} jobs/s` +
        `${capacity ? ` (70% of a measured ${capacity.toFixed(1)} jobs/s)` : ' (--rate)'}, ${options.workers} worker processes on jobctl stack, vendor fault rate ${options.faultRate}`,
      `  enqueued           ${jobs.length} (${Object.entries(enqueuedBy)
        .map(([k, v]) => `${k} ${v}`)
        .join(', ')}; enqueue calls retried ${enqueueRetries})`,
      `  completed          ${verdict.completed}`,
      `  dead               ${verdict.deadAsDesigned + verdict.deadUnexpected} (as designed ${verdict.deadAsDesigned}, unexpected ${verdict.deadUnexpected}; ${scriptedDead} webhooks were scripted to get two 4xx)`,
      `  lost               ${verdict.lost}`,
      ...(Object.keys(EFFECT_KINDS) as EffectKind[]).map(
        (kind) => `  ${EFFECT_KINDS[kind].padEnd(38)} ${describeEffects(verdict.effects[kind])}`,
      ),
      `  duplicated effects ${duplicates} (${(Object.keys(EFFECT_KINDS) as EffectKind[])
        .map((k) => `${k} ${check.duplicates[k].surplus}`)
        .join(', ')})`,
      `  replayed           vendor ${vendor.replayed}, gateway ${gateway.replayed} (requests answered from the idempotency record)`,
      `  worker kills       ${faults.kills} of ${scheduled.kills} scheduled (processes that exited on their own: ${crashes.length})`,
      `  history restarts   ${faults.historyRestarts} of ${scheduled.historyRestarts} scheduled`,
      `  PostgreSQL restarts survived ${faults.postgresRestarts} of ${scheduled.postgresRestarts} scheduled`,
      `  latency            p50 ${fmt(p50)}, p95 ${fmt(p95)} (enqueue → completion, ${latencies.length} completed jobs of the load)`,
      `  settled in         ${settleSeconds.toFixed(0)} s after the load`,
    ];
    return {
      lines,
      metrics: {
        minutes: options.minutes,
        rate,
        capacity: capacity ?? 0,
        enqueued: jobs.length,
        completed: verdict.completed,
        dead: verdict.deadAsDesigned + verdict.deadUnexpected,
        deadAsDesigned: verdict.deadAsDesigned,
        deadUnexpected: verdict.deadUnexpected,
        scriptedClientErrors: scriptedDead,
        lost: verdict.lost,
        duplicatedEffects: duplicates,
        duplicatedDeliveries: check.duplicates.deliveries.surplus,
        duplicatedCharges: check.duplicates.charges.surplus,
        duplicatedDocuments: check.duplicates.documents.surplus,
        duplicatedRows: check.duplicates.rows.surplus,
        replayedVendor: vendor.replayed,
        replayedGateway: gateway.replayed,
        workerKills: faults.kills,
        workerKillsScheduled: scheduled.kills,
        historyRestarts: faults.historyRestarts,
        historyRestartsScheduled: scheduled.historyRestarts,
        postgresRestarts: faults.postgresRestarts,
        postgresRestartsScheduled: scheduled.postgresRestarts,
        unexpectedExits: crashes.length,
        p50LatencyMs: p50 ?? 0,
        p95LatencyMs: p95 ?? 0,
        settleSeconds,
      },
      problems,
    };
  } finally {
    stopping = true;
    process.removeListener('SIGINT', onSignal).removeListener('SIGTERM', onSignal);
    await client?.close().catch(() => undefined);
    await Promise.all([...workers].map((w) => w.stop()));
    await stack?.stop().catch((err) => log(`stopping the stack: ${String(err)}`));
    if (postgres && postgres !== stack?.postgres) await postgres.stop();
    await vendor.stop();
    await gateway.stop();
    process.removeListener('exit', killAll);
    if (passed && !options.keepData) fs.rmSync(dataDir, { recursive: true, force: true });
    else log(`Stack directory kept: ${dataDir} (logs in ${path.join(dataDir, 'logs')})`);
  }
}

interface Verdict {
  completed: number;
  deadAsDesigned: number;
  deadUnexpected: number;
  lost: number;
  /** Per kind of effect, each record's name → how many times its effect happened (0 included for every job's record). */
  effects: Record<EffectKind, Map<string, number>>;
  /** Dead webhooks and payments with the deliveries or charges their record had. */
  deadEffects: Array<{ name: string; effects: number }>;
  latencies: number[];
  problems: string[];
}

/** Each job's final state from Temporal, each dead job against its retry table, each effect against the fakes and the database. */
async function verify(
  client: JobClient,
  databaseUrl: string,
  jobs: JobRecord[],
  vendor: FakeVendor,
  gateway: FakeVendor,
  exportUsers: Map<number, Set<number>>,
  scriptedIds: Set<number>,
): Promise<Verdict> {
  const v: Verdict = {
    completed: 0,
    deadAsDesigned: 0,
    deadUnexpected: 0,
    lost: 0,
    effects: { deliveries: new Map(), charges: new Map(), documents: new Map(), rows: new Map() },
    deadEffects: [],
    latencies: [],
    problems: [],
  };
  const note = (list: string[], line: string) => list.length < 10 && list.push(line);
  const lostIds: string[] = [];
  const unexpected: string[] = [];
  const completed = new Set<JobRecord>();
  const dead = new Set<JobRecord>();
  const deadByDesign = new Set<JobRecord>();
  const lastAnswer = (log: VendorRequest[]) => {
    const last = new Map<string, FaultKind>();
    for (const r of log) last.set(r.key, r.fault);
    return last;
  };
  const vendorLast = lastAnswer(vendor.requestLog);
  const gatewayLast = lastAnswer(gateway.requestLog);

  await lanes(jobs, 16, async (job) => {
    const handle = client.temporal.workflow.getHandle(job.workflowId);
    let description;
    try {
      description = await handle.describe();
    } catch {
      v.lost++;
      note(lostIds, `${job.workflowId} (not found)`);
      return;
    }
    const status = description.status.name;
    if (status === 'COMPLETED') {
      v.completed++;
      completed.add(job);
      if (!job.measuring && description.closeTime) v.latencies.push(description.closeTime.getTime() - job.enqueuedAt);
      return;
    }
    if (status === 'RUNNING' || status === 'CONTINUED_AS_NEW') {
      v.lost++;
      note(lostIds, `${job.workflowId} (${status})`);
      return;
    }
    dead.add(job);
    const why = await deadAsDesigned(handle, job, job.kind === 'payment' ? gatewayLast : vendorLast);
    if (why.asDesigned) {
      v.deadAsDesigned++;
      deadByDesign.add(job);
    } else {
      v.deadUnexpected++;
      note(unexpected, `${job.workflowId} ${status}: ${why.reason}`);
    }
  });
  if (lostIds.length) v.problems.push(`${v.lost} jobs lost (neither completed nor dead), e.g. ${lostIds.join(', ')}`);
  if (unexpected.length)
    v.problems.push(`${v.deadUnexpected} jobs dead against their retry table: ${unexpected.join('; ')}`);

  const scriptedNotDead = [...scriptedIds].filter(
    (id) => ![...deadByDesign].some((j) => j.kind === 'webhook' && j.recordId === id),
  );
  if (scriptedNotDead.length)
    v.problems.push(
      `${scriptedNotDead.length} webhooks scripted to get two 4xx did not die as designed: ${scriptedNotDead
        .slice(0, 10)
        .map((id) => `webhook payload ${id}`)
        .join(', ')}`,
    );

  // Charges per payment, whatever the key: the gateway counts them per payment (its recordOf).
  for (const job of jobs) if (job.kind === 'payment') v.effects.charges.set(`payment ${job.recordId}`, 0);
  for (const [record, effect] of gateway.records) v.effects.charges.set(record, effect.applied);

  const missing: string[] = [];
  await withDatabase(databaseUrl, async ({ db }) => {
    const byKind = (kind: Kind, set: Set<JobRecord>) => [...set].filter((j) => j.kind === kind).map((j) => j.recordId);
    const chunks = <T>(list: T[]) =>
      Array.from({ length: Math.ceil(list.length / 1000) }, (_, i) => list.slice(i * 1000, i * 1000 + 1000));

    // Deliveries per payload, whatever the key: the vendor counts them per request body, which is the payload's data.
    const payloadOf = new Map<string, number>();
    for (const part of chunks(jobs.filter((j) => j.kind === 'webhook').map((j) => j.recordId)))
      for (const row of await db
        .selectFrom('webhook_payloads')
        .select(['id', 'data'])
        .where('id', 'in', part)
        .execute()) {
        payloadOf.set(row.data, Number(row.id));
        v.effects.deliveries.set(`webhook payload ${row.id}`, 0);
      }
    for (const [body, effect] of vendor.records) {
      const id = payloadOf.get(body);
      v.effects.deliveries.set(
        id === undefined ? `a payload of no soak job (${body})` : `webhook payload ${id}`,
        effect.applied,
      );
    }
    for (const job of dead) {
      const name = job.kind === 'payment' ? `payment ${job.recordId}` : `webhook payload ${job.recordId}`;
      if (job.kind === 'payment' || job.kind === 'webhook')
        v.deadEffects.push({
          name,
          effects: (job.kind === 'payment' ? v.effects.charges : v.effects.deliveries).get(name) ?? 0,
        });
    }

    for (const part of chunks(byKind('payment', completed))) {
      const rows = await db
        .selectFrom('payments')
        .select(['id', 'status', 'charge_reference'])
        .where('id', 'in', part)
        .execute();
      for (const row of rows) {
        const effect = gateway.effects.get(`payment/${row.id}`);
        if (row.status !== 'charged' || !effect || effect.result.reference !== row.charge_reference)
          note(
            missing,
            `payment ${row.id}: ${row.status}, ref ${row.charge_reference}, gateway ${effect?.result.reference ?? 'none'}`,
          );
      }
    }
    for (const part of chunks(byKind('webhook', completed))) {
      const rows = await db.selectFrom('webhook_payloads').select(['id', 'status']).where('id', 'in', part).execute();
      for (const row of rows)
        if (row.status !== 'processed' || !vendor.effects.has(`webhook-payload/${row.id}`))
          note(
            missing,
            `webhook ${row.id}: ${row.status}, vendor ${vendor.effects.has(`webhook-payload/${row.id}`) ? 'applied' : 'none'}`,
          );
    }
    for (const part of chunks(byKind('webhook', dead))) {
      const rows = await db.selectFrom('webhook_payloads').select(['id', 'status']).where('id', 'in', part).execute();
      for (const row of rows)
        if (row.status !== 'dead') note(missing, `dead webhook ${row.id} is ${row.status}, not dead`);
    }
    const invoiceIds = jobs.filter((j) => j.kind === 'invoice').map((j) => j.recordId);
    const completedInvoices = new Set(byKind('invoice', completed));
    for (const part of chunks(invoiceIds)) {
      const rows = await db
        .selectFrom('invoice_documents')
        .select(['invoice_id', db.fn.countAll<number>().as('n')])
        .where('invoice_id', 'in', part)
        .groupBy('invoice_id')
        .execute();
      const seen = new Set<number>();
      for (const id of part) v.effects.documents.set(`invoice ${id}`, 0);
      for (const row of rows) {
        seen.add(Number(row.invoice_id));
        v.effects.documents.set(`invoice ${row.invoice_id}`, Number(row.n));
      }
      for (const id of part)
        if (completedInvoices.has(id) && !seen.has(id)) note(missing, `invoice ${id}: no document`);
    }
    for (const job of jobs.filter((j) => j.kind === 'export' && completed.has(j))) {
      const expected = exportUsers.get(job.recordId)!;
      const count = new Map<number, number>();
      const slices = await db
        .selectFrom('export_slices')
        .select('content')
        .where('export_id', '=', job.recordId)
        .execute();
      for (const slice of slices)
        for (const line of slice.content.split('\n')) {
          if (!line) continue;
          const id = Number(line.slice(0, line.indexOf(',')));
          count.set(id, (count.get(id) ?? 0) + 1);
        }
      let absent = 0;
      let unknown = 0;
      for (const id of expected) if (!count.has(id)) absent++;
      for (const [id, n] of count) {
        if (!expected.has(id)) unknown++;
        v.effects.rows.set(`export ${job.recordId} user ${id}`, n);
      }
      if (absent || unknown) note(missing, `export ${job.recordId}: ${absent} users missing, ${unknown} unknown`);
    }
  });
  if (missing.length) v.problems.push(`effects missing or inconsistent: ${missing.join('; ')}`);
  return v;
}

/**
 * Whether a dead job died as its retry table says: its last activity failure, at its attempt number, is one the table
 * gives up on (discard, exhausted, never retried), and the vendor's last answer for its key is that failure.
 */
async function deadAsDesigned(
  handle: ReturnType<JobClient['temporal']['workflow']['getHandle']>,
  job: JobRecord,
  lastAnswer: Map<string, FaultKind>,
): Promise<{ asDesigned: boolean; reason: string }> {
  const definition = JOB_OF[job.kind];
  const history = await handle.fetchHistory();
  const events = history.events ?? [];
  const byId = new Map<number, temporal.api.history.v1.IHistoryEvent>(events.map((e) => [Number(e.eventId), e]));
  const failed = [...events].reverse().find((e) => e.activityTaskFailedEventAttributes);
  if (!failed) {
    const timedOut = events.find((e) => e.activityTaskTimedOutEventAttributes);
    return { asDesigned: false, reason: timedOut ? 'an activity timed out' : 'no activity failed' };
  }
  const attrs = failed.activityTaskFailedEventAttributes!;
  const scheduled = byId.get(Number(attrs.scheduledEventId))?.activityTaskScheduledEventAttributes;
  const attempt = byId.get(Number(attrs.startedEventId))?.activityTaskStartedEventAttributes?.attempt ?? 0;
  const activity = scheduled?.activityType?.name ?? '?';
  const type = attrs.failure?.applicationFailureInfo?.type ?? attrs.failure?.cause?.applicationFailureInfo?.type ?? '';
  const message = attrs.failure?.message ?? '';
  const table = (definition.retryTables as Record<string, RetryTable | undefined> | undefined)?.[activity];
  if (!table) return { asDesigned: false, reason: `${activity} failed (${type}: ${message}) and has no retry table` };
  const decision = decideRetry(table, attempt, Object.assign(new Error(message), { type }), 'check');
  if (decision.action === 'retry')
    return { asDesigned: false, reason: `${type} at attempt ${attempt}: the table retries it` };
  const key = job.kind === 'payment' ? `payment/${job.recordId}` : `webhook-payload/${job.recordId}`;
  const answer = lastAnswer.get(key);
  if (!answer || FAULT_ERROR_TYPE[answer] !== type)
    return {
      asDesigned: false,
      reason: `${type} at attempt ${attempt}, but the vendor's last answer was ${answer ?? 'none'}`,
    };
  return { asDesigned: true, reason: decision.reason };
}

async function withDatabase<T>(databaseUrl: string, use: (db: OpenDatabase) => Promise<T>): Promise<T> {
  const database = await openDatabase({ databaseUrl, sqlitePath: '', migrations });
  try {
    return await use(database);
  } finally {
    await database.close();
  }
}

async function lanes<T>(items: T[], limit: number, task: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const lane = async () => {
    while (next < items.length) await task(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
}

function countBy<T>(list: T[], key: (item: T) => string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const item of list) out[key(item)] = (out[key(item)] ?? 0) + 1;
  return out;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, Math.max(0, ms)));
const fmt = (ms: number | undefined) => (ms === undefined ? '–' : formatDuration(ms));

/** A frontend port whose Temporal service ports (src/stack/server-config.ts) are all free, and a PostgreSQL port. */
async function freePorts(): Promise<{ port: number; postgresPort: number }> {
  for (let i = 0; i < 50; i++) {
    // Below 32768: Temporal stores each service's port in a smallint column (cluster_membership), and a history
    // service on a higher port dies at start ("value … is out of range for type smallint").
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    const postgresPort = port + 20;
    const all = [
      ...Object.values(servicePorts(port)).flatMap((p) => [p.grpc, p.membership, ...(p.http ? [p.http] : [])]),
      postgresPort,
    ];
    if ((await Promise.all(all.map(canListen))).every(Boolean)) return { port, postgresPort };
  }
  throw new Error('found no free ports for the stack');
}

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

async function waitForPort(port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!(await canListen(port))) return;
    await sleep(250);
  }
  throw new Error(`nothing listens on :${port} after ${timeoutMs} ms`);
}

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
