import fs from 'node:fs';
import path from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import { openApp } from '../app';
import { JobClient, type JobStatus, type RetryResult } from '../client';
import { readSettings } from '../config';
import { seedDemoData } from '../db/seed';
import { startDevServer } from '../dev-server';
import { UnknownJobError } from '../errors';
import type { PriorityKey } from '../job-definition';
import { findJob, jobs } from '../jobs';
import { PRIORITIES, taskQueueName, type Priority } from '../queues';
import { formatDuration, formatPercent } from '../format';
import { jobStats, parseSince } from '../stats';
import { buildHttpService } from '../http/server';
import { codecEndpointOptions } from '../http/codec';
import { Keyring } from '../encryption';
import { createJobLogger } from '../instrumentation/logger';
import { installHealthCheckSchedule } from '../schedules';
import { resolveTemporalCli } from '../temporal-cli';
import { validateJobArguments } from '../validate-arguments';
import { FakeVendor, type FaultKind } from '../vendor/fake-vendor';
import { bundleWorkflows, DEFAULT_CONCURRENCY, parseQueueSpec } from '../worker';
import { startWorkerProcess } from '../worker-process';
import { fail, fields, print, table } from './output';
import { runDev } from './dev';
import { generateJob } from './new-job';
import { parseFraction, parsePort, parsePositiveInt, parsePriorityKey, parseStatus } from './parsers';
import { formatStatus } from './status-text';
import { watchFromCli } from './watch';

const program = new Command('jobctl')
  .description('Start, inspect and run durable background jobs on Temporal.')
  .configureOutput({ outputError: (str, write) => write(`jobctl: ${str.replace(/^error: /, '')}`) });

program
  .command('enqueue')
  .description('enqueue a job; a duplicate (same idempotency key) attaches to the existing run')
  .argument('<job>', `job name (${jobs.map((j) => j.name).join(', ')})`)
  .argument('[args]', 'arguments as a JSON object', '{}')
  .option('--priority-key <1-5>', 'order within its queue: 1 first, 5 last (default: the job\'s, else 3)', parsePriorityKey)
  .option('--wait', 'then watch it like `jobctl watch` until it closes; exit 1 unless it completed')
  .option('--interval <ms>', 'with --wait: poll every this many ms', parsePositiveInt, 1000)
  .option('--json', 'print one JSON object (with --wait: the final status, plus `duplicate`)')
  .action(async (name: string, rawArgs: string, opts: { json?: boolean; wait?: boolean; interval: number; priorityKey?: PriorityKey }) => {
    const job = findJob(name);
    if (!job) throw new UnknownJobError(name, jobs.map((j) => j.name));
    let parsed: unknown;
    try {
      parsed = JSON.parse(rawArgs);
    } catch (err) {
      throw new Error(`arguments for "${name}" are not valid JSON: ${(err as Error).message}`);
    }
    const args = validateJobArguments(job, parsed); // before connecting: bad input never needs a server
    const client = await JobClient.connect();
    try {
      const result = await client.enqueue(job, args, { priorityKey: opts.priorityKey });
      // With --wait --json, stdout still holds one JSON value: the final status (it carries workflowId, runId, url).
      if (!(opts.wait && opts.json)) {
        print(!!opts.json, result, () =>
          [`${result.duplicate ? 'Already enqueued' : 'Enqueued'} ${result.workflowId}`, fields([['run', result.runId], ['web ui', result.url]])].join('\n'),
        );
      }
      if (opts.wait) {
        process.exitCode = await watchFromCli(client, result.workflowId, { intervalMs: opts.interval, json: opts.json, extraJson: { duplicate: result.duplicate } });
      }
    } finally {
      await client.close();
    }
  });

program
  .command('status')
  .description('show the status of a job run, with its result or failure')
  .argument('<workflowId>', 'e.g. invoice-generation/42')
  .option('--json', 'print one JSON object')
  .action(async (workflowId: string, opts: { json?: boolean }) => {
    const client = await JobClient.connect();
    try {
      const s = await client.status(workflowId);
      print(!!opts.json, s, () => formatStatus(s));
    } finally {
      await client.close();
    }
  });

program
  .command('watch')
  .description('follow a job until its run closes: progress bar (or spinner) on stderr, then its status; exit 1 unless it completed')
  .argument('<workflowId>', 'e.g. invoice-generation/42')
  .option('--interval <ms>', 'poll every this many ms', parsePositiveInt, 1000)
  .option('--json', 'print only the final status, as one JSON object')
  .action(async (workflowId: string, opts: { interval: number; json?: boolean }) => {
    const client = await JobClient.connect();
    try {
      process.exitCode = await watchFromCli(client, workflowId, { intervalMs: opts.interval, json: opts.json });
    } finally {
      await client.close();
    }
  });

program
  .command('list')
  .description('list recent job runs, newest first')
  .option('--job <name>', 'only this job')
  .addOption(new Option('--status <status>', 'only runs in this status').argParser(parseStatus))
  .option('--limit <n>', 'at most this many runs', parsePositiveInt, 50)
  .option('--json', 'print one JSON array')
  .action(async (opts: { job?: string; status?: JobStatus; limit: number; json?: boolean }) => {
    if (opts.job && !findJob(opts.job)) throw new UnknownJobError(opts.job, jobs.map((j) => j.name));
    const client = await JobClient.connect();
    try {
      const runs = await client.list({ job: opts.job, status: opts.status, limit: opts.limit });
      print(!!opts.json, runs, () =>
        runs.length === 0
          ? 'No job runs match.'
          : table(
              ['WORKFLOW ID', 'STATUS', 'STARTED', 'CLOSED'],
              runs.map((r) => [r.workflowId, r.status, r.startTime, r.closeTime ?? '']),
            ),
      );
    } finally {
      await client.close();
    }
  });

program
  .command('stats')
  .description('completed and failed runs per job, failure rate and duration, from Temporal visibility')
  .addOption(
    new Option('--since <duration>', 'runs that closed in this last period: 90s, 30m, 1h, 2d')
      .argParser((value: string) => {
        try {
          return { text: value, ms: parseSince(value) };
        } catch (err) {
          throw new InvalidArgumentError((err as Error).message.replace(/^--since /, ''));
        }
      })
      .default({ text: '1h', ms: 3_600_000 }, '1h'),
  )
  .option('--job <name>', 'only this job (shown even with no runs)')
  .option('--json', 'print one JSON array')
  .action(async (opts: { since: { text: string; ms: number }; job?: string; json?: boolean }) => {
    if (opts.job && !findJob(opts.job)) throw new UnknownJobError(opts.job, jobs.map((j) => j.name));
    const client = await JobClient.connect();
    try {
      const now = new Date();
      const rows = await jobStats(client, { since: new Date(now.getTime() - opts.since.ms), job: opts.job });
      print(!!opts.json, rows, () =>
        rows.length === 0
          ? `No job runs closed in the last ${opts.since.text}.`
          : table(
              ['JOB', 'COMPLETED', 'FAILED', 'FAILURE RATE', 'AVG', 'P95'],
              rows.map((r) => [
                r.job,
                String(r.completed),
                String(r.failed),
                formatPercent(r.failureRate),
                formatDuration(r.averageMs),
                formatDuration(r.p95Ms),
              ]),
            ),
      );
    } finally {
      await client.close();
    }
  });

program
  .command('dead')
  .description('list dead jobs: runs that were discarded or ran out of attempts, and not run again since')
  .option('--job <name>', 'only this job')
  .option('--error <type>', 'only this error type, e.g. ClientError')
  .option('--limit <n>', 'at most this many', parsePositiveInt, 100)
  .option('--json', 'print one JSON array')
  .action(async (opts: { job?: string; error?: string; limit: number; json?: boolean }) => {
    if (opts.job && !findJob(opts.job)) throw new UnknownJobError(opts.job, jobs.map((j) => j.name));
    const client = await JobClient.connect();
    try {
      const dead = await client.deadLetters({ job: opts.job, errorType: opts.error, limit: opts.limit });
      print(!!opts.json, dead, () =>
        dead.length === 0
          ? 'No dead jobs match.'
          : table(['WORKFLOW ID', 'ERROR', 'CLOSED', 'MESSAGE'], dead.map((d) => [d.workflowId, d.errorType, d.closeTime ?? '', d.message])),
      );
    } finally {
      await client.close();
    }
  });

program
  .command('retry')
  .description('run dead jobs again with their original arguments: one by workflow ID, or all that match --job/--error')
  .argument('[workflowId]', 'the dead job to retry')
  .option('--job <name>', 'bulk: dead jobs of this job')
  .option('--error <type>', 'bulk: dead jobs that failed with this error type')
  .option('--all', 'bulk: every dead job')
  .option('--json', 'print one JSON array')
  .action(async (workflowId: string | undefined, opts: { job?: string; error?: string; all?: boolean; json?: boolean }) => {
    const bulk = opts.job !== undefined || opts.error !== undefined || opts.all === true;
    if (workflowId && bulk) throw new Error('give either a workflow ID or --job/--error/--all, not both');
    if (!workflowId && !bulk) throw new Error('give a workflow ID, or select dead jobs with --job, --error or --all');
    if (opts.job && !findJob(opts.job)) throw new UnknownJobError(opts.job, jobs.map((j) => j.name));
    const client = await JobClient.connect();
    try {
      const targets = workflowId ? [workflowId] : (await client.deadLetters({ job: opts.job, errorType: opts.error, limit: 10_000 })).map((d) => d.workflowId);
      const results: RetryResult[] = [];
      for (const id of targets) results.push(await client.retry(id));
      print(!!opts.json, results, () =>
        results.length === 0
          ? 'No dead jobs match.'
          : results.map((r) => (r.retried ? `Retried ${r.workflowId}  run ${r.runId}  ${r.url}` : `Not retried ${r.workflowId}: it is ${r.status ?? 'already running again'}`)).join('\n'),
      );
    } finally {
      await client.close();
    }
  });

program
  .command('jobs')
  .description('list the declared jobs')
  .option('--json', 'print one JSON array')
  .action((opts: { json?: boolean }) => {
    const prefix = readSettings().taskQueuePrefix;
    const rows = jobs.map((j) => ({ name: j.name, queue: taskQueueName(prefix, j.queue), description: j.description }));
    print(!!opts.json, rows, () => table(['JOB', 'TASK QUEUE', 'DESCRIPTION'], rows.map((r) => [r.name, r.queue, r.description])));
  });

program
  .command('worker')
  .description('run a worker process for some or all priority queues')
  .option('--queues <queues...>', 'queues to serve, each optionally with its concurrency: critical:5,default:3,low:1')
  .option('--concurrency <n>', 'concurrency for queues listed without one', parsePositiveInt, DEFAULT_CONCURRENCY)
  .option('--metrics-port <port>', 'serve Prometheus metrics (SDK and job series) on this port at /metrics', parsePort)
  .action(async (opts: { queues?: string[]; concurrency: number; metricsPort?: number }) => {
    const queues = parseQueueSpec(opts.queues, opts.concurrency);
    const settings = readSettings();
    const logger = createJobLogger({ level: process.env.JOBS_LOG_LEVEL === undefined ? 'info' : settings.logLevel });
    // Waits for the server (with backoff) before anything else, so a worker can start before its server.
    const worker = await startWorkerProcess({ settings, queues, logger, metricsPort: opts.metricsPort });
    try {
      const encryption = settings.encryption ? `; payloads encrypted with key "${settings.encryption.active.id}"` : '';
      const bundled = settings.workflowBundlePath ? `; workflows from ${settings.workflowBundlePath}` : '';
      const metrics = opts.metricsPort ? `; metrics on :${opts.metricsPort}/metrics` : '';
      process.stderr.write(
        `jobctl worker: serving ${worker.served} on ${settings.temporalAddress}; database ${worker.app.database.location}` +
          `${bundled}${encryption}${metrics}. Ctrl-C drains and stops.\n`,
      );
      await worker.run();
    } finally {
      await worker.close();
    }
  });

program
  .command('server')
  .description('run a local Temporal dev server with the Web UI; state persists in a SQLite file')
  .option('--port <port>', 'gRPC port', parsePort, 7233)
  .option('--ui-port <port>', 'Web UI port', parsePort, 8233)
  .option('--db-filename <file>', 'SQLite file for the server state', '.data/temporal.sqlite')
  .option('--headless', 'no Web UI')
  .option('--ui-codec-endpoint <url>', 'codec endpoint the Web UI decrypts payloads with, e.g. http://localhost:3000/codec/<JOBS_CODEC_TOKEN>')
  .action(async (opts: { port: number; uiPort: number; dbFilename: string; headless?: boolean; uiCodecEndpoint?: string }) => {
    const server = await startDevServer({ port: opts.port, uiPort: opts.uiPort, dbFilename: opts.dbFilename, headless: opts.headless, ip: '0.0.0.0', uiCodecEndpoint: opts.uiCodecEndpoint });
    process.stderr.write(
      `Temporal dev server listening on localhost:${opts.port} (state in ${opts.dbFilename})` +
        (server.uiUrl ? `; Web UI at ${server.uiUrl}` : '') +
        '. Ctrl-C stops it.\n',
    );
    await untilSignal();
    await server.stop();
  });

program
  .command('dev')
  .description('server + worker + demo data in one process, for trying things out (npm start)')
  .option('--port <port>', 'gRPC port', parsePort, 7233)
  .option('--ui-port <port>', 'Web UI port', parsePort, 8233)
  .option('--db-filename <file>', 'SQLite file for the server state', '.data/temporal.sqlite')
  .option('--http-port <port>', 'HTTP service (POST /jobs/<name>; /codec when payloads are encrypted)', parsePort, 3000)
  .action(runDev);

program
  .command('fake-vendor')
  .description('run the local fake of the webhook vendor API, optionally failing at random')
  .option('--port <port>', 'port', parsePort, 4010)
  .option('--fault-rate <fraction>', 'share of requests that fail (timeouts, 429, 4xx, 5xx, resets)', parseFraction, 0)
  .option('--seed <n>', 'seed of the random faults', parsePositiveInt, 1)
  .option('--path <path>', 'the route that applies requests: /v1/process (vendor) or /v1/charges (payment gateway)', '/v1/process')
  .action(async (opts: { port: number; faultRate: number; seed: number; path: string }) => {
    const vendor = new FakeVendor({ path: opts.path });
    const url = await vendor.start(opts.port, '0.0.0.0');
    if (opts.faultRate > 0) {
      const each = opts.faultRate / 5;
      const weights: Partial<Record<FaultKind, number>> = { ok: 1 - opts.faultRate, timeout: each, rate_limit: each, client_error: each, server_error: each, reset: each };
      vendor.randomFaults({ seed: opts.seed, weights });
    }
    process.stderr.write(`Fake vendor API on ${url.replace('127.0.0.1', 'localhost')} (fault rate ${opts.faultRate}). Ctrl-C stops it.\n`);
    await untilSignal();
    await vendor.stop();
  });

program
  .command('http')
  .description('run the HTTP service: POST /jobs/<name> enqueues, GET /jobs/<workflowId> reports')
  .option('--port <port>', 'port', parsePort, 3000)
  .option('--host <host>', 'interface to listen on', '0.0.0.0')
  .action(async (opts: { port: number; host: string }) => {
    const settings = readSettings();
    const client = await JobClient.connect(settings);
    const codec = codecEndpointOptions(settings);
    if (settings.encryption && !codec) process.stderr.write('jobctl http: payloads are encrypted but JOBS_CODEC_TOKEN is not set, so /codec (the Web UI\'s decoder) is off.\n');
    const app = buildHttpService(client, { logger: true, codec });
    await app.listen({ port: opts.port, host: opts.host });
    await untilSignal();
    await app.close();
    await client.close();
  });

program
  .command('alerts')
  .description('failure-rate alerts')
  .command('schedule')
  .description('create or update the Temporal Schedule that runs the health check')
  .option('--every <interval>', 'how often, e.g. 1m, 5m', '1m')
  .option('--window <minutes>', 'failure rate over this many minutes', parsePositiveInt, 15)
  .action(async (opts: { every: string; window: number }) => {
    const client = await JobClient.connect();
    try {
      const id = await installHealthCheckSchedule(client, { every: opts.every, windowMinutes: opts.window });
      process.stdout.write(`Schedule ${id}: health check every ${opts.every} over the last ${opts.window} min\n`);
    } finally {
      await client.close();
    }
  });

program
  .command('seed')
  .description('create demo users and invoices (ids 1..N) if the database is empty')
  .option('--count <n>', 'how many', parsePositiveInt, 100)
  .action(async (opts: { count: number }) => {
    const app = await openApp(readSettings());
    try {
      const seeded = await seedDemoData(app.database.db, opts.count);
      process.stderr.write(seeded.users ? `Seeded ${seeded.users} users, invoices and webhook payloads in ${app.database.location}\n` : 'Database already has data; nothing seeded.\n');
    } finally {
      await app.close();
    }
  });

program
  .command('bundle')
  .description('write the workflow bundle, so worker processes load it (JOBS_WORKFLOW_BUNDLE) instead of bundling at start')
  .option('--out <file>', 'where to write it', 'workflow-bundle.js')
  .action(async (opts: { out: string }) => {
    const { code } = await bundleWorkflows();
    const file = path.resolve(opts.out);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, code);
    process.stderr.write(`Workflow bundle written to ${file} (${(code.length / 1024).toFixed(0)} KiB); run workers with JOBS_WORKFLOW_BUNDLE=${file}\n`);
  });

program
  .command('new')
  .description('add a job: writes workflows/<job>.ts, activities/<job>.ts and test/<job>.test.ts, and lists it in both indexes')
  .argument('<job-name>', 'kebab-case, e.g. sync-crm-contact')
  .addOption(new Option('--queue <queue>', 'priority queue it runs on').choices(PRIORITIES).default('default'))
  .action((name: string, opts: { queue: Priority }) => {
    const root = path.resolve(__dirname, '../..');
    const { created, updated } = generateJob(name, { root, queue: opts.queue });
    process.stdout.write(
      [...created.map((f) => `created  ${f}`), ...updated.map((f) => `updated  ${f}`), '', `Next: fill in the TODOs, then npm test.`, ''].join('\n'),
    );
  });

program
  .command('keygen')
  .description('print a new AES-256 key as id:base64 for JOBS_ENCRYPTION_KEYS (put it first to rotate)')
  .argument('[id]', 'key id stored with every payload it encrypts', `key-${new Date().toISOString().slice(0, 10)}`)
  .action((id: string) => {
    process.stdout.write(`${Keyring.generate(id)}\n`);
  });

program
  .command('install-temporal')
  .description('find or build the Temporal CLI (dev server) and print its path')
  .action(async () => {
    const cli = await resolveTemporalCli();
    if (!cli) throw new Error('no Temporal CLI found and Go is not installed; `jobctl server` will download one through the Temporal SDK');
    process.stdout.write(`${cli.path}\n`);
  });

function untilSignal(): Promise<void> {
  return new Promise((resolve) => {
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  });
}

program.parseAsync(process.argv).catch(fail);
