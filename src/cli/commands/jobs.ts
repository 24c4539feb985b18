import { Command, InvalidArgumentError, Option } from 'commander';
import type { JobStatus, RetryResult } from '../../client/client';
import { formatDuration, formatPercent } from '../../format';
import type { PriorityKey } from '../../sandbox/job-definition';
import { taskQueueName } from '../../sandbox/queues';
import { lazy } from '../lazy';
import { fields, print, table } from '../output';
import {
  parseDurationOption,
  parseFairnessKeyOption,
  parseFairnessWeightOption,
  parsePositiveInt,
  parsePriorityKey,
  parseRunAtOption,
  parseStatus,
} from '../parsers';
import { formatStatus } from '../status-text';

/** Commands on jobs and their runs: enqueue, status, watch, list, stats, dead, retry, jobs. */
export function addJobCommands(program: Command): void {
  program
    .command('enqueue')
    .description(
      'enqueue a job, now or later (--in, --at); a duplicate (same idempotency key) attaches to the existing run, ' +
        'also one still waiting out its delay. A job that declares debounce collapses enqueues of one debounce key ' +
        'into one run with the last arguments (prints the debounce workflow ID)',
    )
    .argument('<job>', 'job name (`jobctl jobs` lists them)')
    .argument('[args]', 'arguments as a JSON object', '{}')
    .option(
      '--priority-key <1-5>',
      "order within its queue: 1 first, 5 last (default: the job's, else 3)",
      parsePriorityKey,
    )
    .addOption(
      new Option('--in <duration>', 'start it this long from now, e.g. 10m, 30s, 2h; Scheduled until then')
        .argParser(parseDurationOption('delay'))
        .conflicts('at'),
    )
    .addOption(
      new Option('--at <time>', 'start it at this ISO 8601 time with a zone, e.g. 2026-05-01T09:00:00Z').argParser(
        parseRunAtOption,
      ),
    )
    .option(
      '--expires-after <duration>',
      "drop it (status Expired) unless it has started this long after it was due, e.g. 15m (default: the job's)",
      parseDurationOption('expiresAfter'),
    )
    .option(
      '--fairness-key <key>',
      "share the queue fairly by this key, e.g. a tenant id: waiting runs are dispatched across keys by weight, not first in first out (default: the job's fairness.key, else none)",
      parseFairnessKeyOption,
    )
    .option(
      '--fairness-weight <w>',
      "the key's share, 0.001-1000: weight 2 gets twice the dispatches of weight 1 (default: the job's, else 1)",
      parseFairnessWeightOption,
    )
    .option('--wait', 'then watch it like `jobctl watch` until it closes; exit 1 unless it completed')
    .option('--interval <ms>', 'with --wait: poll every this many ms', parsePositiveInt, 1000)
    .option('--json', 'print one JSON object (with --wait: the final status, plus `duplicate`)')
    .action(
      async (
        name: string,
        rawArgs: string,
        opts: {
          json?: boolean;
          wait?: boolean;
          interval: number;
          priorityKey?: PriorityKey;
          in?: number;
          at?: string;
          expiresAfter?: number;
          fairnessKey?: string;
          fairnessWeight?: number;
        },
      ) => {
        const job = lazy.jobs().findJobOrThrow(name);
        let parsed: unknown;
        try {
          parsed = JSON.parse(rawArgs);
        } catch (err) {
          throw new Error(`arguments for "${name}" are not valid JSON: ${(err as Error).message}`);
        }
        // Before connecting: bad input never needs a server.
        const args = lazy.validateArguments().validateJobArguments(job, parsed);
        const client = await lazy.client().JobClient.connect();
        try {
          const result = await client.enqueue(job, args, {
            priorityKey: opts.priorityKey,
            delay: opts.in,
            runAt: opts.at,
            expiresAfter: opts.expiresAfter,
            fairnessKey: opts.fairnessKey,
            fairnessWeight: opts.fairnessWeight,
          });
          // With --wait --json, stdout still holds one JSON value: the final status
          // (it carries workflowId, runId, url).
          if (!(opts.wait && opts.json)) {
            print(!!opts.json, result, () =>
              [
                result.debounced
                  ? `Debounced into ${result.workflowId} (the run starts once the key is quiet for the job's period)`
                  : `${result.duplicate ? 'Already enqueued' : 'Enqueued'} ${result.workflowId}`,
                fields([
                  ['run', result.runId],
                  ['starts at', result.startsAt],
                  ['expires at', result.expiresAt],
                  ['web ui', result.url],
                ]),
              ].join('\n'),
            );
          }
          if (opts.wait) {
            process.exitCode = await lazy.watch().watchFromCli(client, result.workflowId, {
              intervalMs: opts.interval,
              json: opts.json,
              extraJson: { duplicate: result.duplicate },
            });
          }
        } finally {
          await client.close();
        }
      },
    );

  program
    .command('status')
    .description('show the status of a job run, with its result or failure')
    .argument('<workflowId>', 'e.g. invoice-generation/42')
    .option('--json', 'print one JSON object')
    .action(async (workflowId: string, opts: { json?: boolean }) => {
      const client = await lazy.client().JobClient.connect();
      try {
        const s = await client.status(workflowId);
        print(!!opts.json, s, () => formatStatus(s));
      } finally {
        await client.close();
      }
    });

  program
    .command('watch')
    .description(
      'follow a job until its run closes: progress bar (or spinner) on stderr, ' +
        'then its status; exit 1 unless it completed',
    )
    .argument('<workflowId>', 'e.g. invoice-generation/42')
    .option('--interval <ms>', 'poll every this many ms', parsePositiveInt, 1000)
    .option('--json', 'print only the final status, as one JSON object')
    .action(async (workflowId: string, opts: { interval: number; json?: boolean }) => {
      const client = await lazy.client().JobClient.connect();
      try {
        const { watchFromCli } = lazy.watch();
        process.exitCode = await watchFromCli(client, workflowId, { intervalMs: opts.interval, json: opts.json });
      } finally {
        await client.close();
      }
    });

  program
    .command('list')
    .description('list recent job runs, newest first')
    .option('--job <name>', 'only this job')
    .addOption(
      new Option(
        '--status <status>',
        'only runs in this status (Scheduled: waiting out a start delay; Expired: dropped, not started in time)',
      ).argParser(parseStatus),
    )
    .option('--limit <n>', 'at most this many runs', parsePositiveInt, 50)
    .option('--tenant <id>', "only this tenant's runs (TenantId; jobs that declare tenant, runs started since they do)")
    .option('--json', 'print one JSON array')
    .action(async (opts: { job?: string; status?: JobStatus; limit: number; tenant?: string; json?: boolean }) => {
      if (opts.job) lazy.jobs().findJobOrThrow(opts.job); // an unknown job is an error before connecting
      const client = await lazy.client().JobClient.connect();
      try {
        const runs = await client.list({ job: opts.job, status: opts.status, limit: opts.limit, tenant: opts.tenant });
        print(!!opts.json, runs, () =>
          runs.length === 0
            ? 'No job runs match.'
            : table(
                ['WORKFLOW ID', 'STATUS', 'STARTED', 'CLOSED'],
                runs.map((r) => [
                  r.workflowId,
                  r.startsAt ? `${r.status}, starts at ${r.startsAt}` : r.status,
                  r.startTime,
                  r.closeTime ?? '',
                ]),
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
            return { text: value, ms: lazy.stats().parseSince(value) };
          } catch (err) {
            throw new InvalidArgumentError((err as Error).message.replace(/^--since /, ''));
          }
        })
        .default({ text: '1h', ms: 3_600_000 }, '1h'),
    )
    .option('--job <name>', 'only this job (shown even with no runs)')
    .option('--tenant <id>', "only this tenant's runs (TenantId; jobs that declare tenant, runs started since they do)")
    .option('--json', 'print one JSON array')
    .action(async (opts: { since: { text: string; ms: number }; job?: string; tenant?: string; json?: boolean }) => {
      if (opts.job) lazy.jobs().findJobOrThrow(opts.job); // an unknown job is an error before connecting
      const client = await lazy.client().JobClient.connect();
      try {
        const now = new Date();
        const rows = await lazy.stats().jobStats(client, {
          since: new Date(now.getTime() - opts.since.ms),
          job: opts.job,
          tenant: opts.tenant,
        });
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
    .option('--tenant <id>', "only this tenant's runs (TenantId; jobs that declare tenant, runs started since they do)")
    .option('--json', 'print one JSON array')
    .action(async (opts: { job?: string; error?: string; limit: number; tenant?: string; json?: boolean }) => {
      if (opts.job) lazy.jobs().findJobOrThrow(opts.job); // an unknown job is an error before connecting
      const client = await lazy.client().JobClient.connect();
      try {
        const dead = await client.deadLetters({
          job: opts.job,
          errorType: opts.error,
          limit: opts.limit,
          tenant: opts.tenant,
        });
        print(!!opts.json, dead, () =>
          dead.length === 0
            ? 'No dead jobs match.'
            : table(
                ['WORKFLOW ID', 'ERROR', 'CLOSED', 'MESSAGE'],
                dead.map((d) => [d.workflowId, d.errorType, d.closeTime ?? '', d.message]),
              ),
        );
      } finally {
        await client.close();
      }
    });

  program
    .command('retry')
    .description(
      'run dead jobs again with their original arguments: one by workflow ID, or all that match --job/--error',
    )
    .argument('[workflowId]', 'the dead job to retry')
    .option('--job <name>', 'bulk: dead jobs of this job')
    .option('--error <type>', 'bulk: dead jobs that failed with this error type')
    .option('--all', 'bulk: every dead job')
    .option('--json', 'print one JSON array')
    .action(
      async (workflowId: string | undefined, opts: { job?: string; error?: string; all?: boolean; json?: boolean }) => {
        const bulk = opts.job !== undefined || opts.error !== undefined || opts.all === true;
        if (workflowId && bulk) throw new Error('give either a workflow ID or --job/--error/--all, not both');
        if (!workflowId && !bulk)
          throw new Error('give a workflow ID, or select dead jobs with --job, --error or --all');
        if (opts.job) lazy.jobs().findJobOrThrow(opts.job); // an unknown job is an error before connecting
        const client = await lazy.client().JobClient.connect();
        try {
          const targets = workflowId
            ? [workflowId]
            : (await client.deadLetters({ job: opts.job, errorType: opts.error, limit: 10_000 })).map(
                (d) => d.workflowId,
              );
          const results: RetryResult[] = [];
          for (const id of targets) results.push(await client.retry(id));
          print(!!opts.json, results, () =>
            results.length === 0
              ? 'No dead jobs match.'
              : results
                  .map((r) =>
                    r.retried
                      ? `Retried ${r.workflowId}  run ${r.runId}  ${r.url}`
                      : `Not retried ${r.workflowId}: it is ${r.status ?? 'already running again'}`,
                  )
                  .join('\n'),
          );
        } finally {
          await client.close();
        }
      },
    );

  program
    .command('jobs')
    .description(
      'list the declared jobs, with how their runs move between versions, the schedule of recurring ones and their ' +
        'flow controls ' +
        '(CONTROLS: e.g. "rate processWebhook 10/s", the rate in force with JOBS_RATE_LIMITS applied)',
    )
    .option('--json', 'print one JSON array')
    .action((opts: { json?: boolean }) => {
      const settings = lazy.config().readSettings();
      const prefix = settings.taskQueuePrefix;
      const { describeJobSchedule } = lazy.schedules();
      const { jobControls } = lazy.jobControls();
      const rows = lazy.jobs().jobs.map((j) => ({
        name: j.name,
        queue: taskQueueName(prefix, j.queue),
        enqueueOverHttp: j.enqueueOverHttp !== false,
        description: j.description,
        // Recurring jobs: the declared timetable (README "Recurring jobs"); absent for jobs that only run when enqueued.
        ...(j.schedule ? { schedule: describeJobSchedule(j.schedule) } : {}),
        // Flow controls (README "Flow control"), one phrase each; [] for none.
        controls: jobControls(j, settings.rateLimits),
        // How its runs move between versions (README "Shipping changed job code").
        versioning: j.versioning ?? 'pinned',
      }));
      print(!!opts.json, rows, () =>
        table(
          ['JOB', 'TASK QUEUE', 'HTTP', 'VERSIONING', 'SCHEDULE', 'CONTROLS', 'DESCRIPTION'],
          rows.map((r) => [
            r.name,
            r.queue,
            r.enqueueOverHttp ? 'yes' : 'no',
            r.versioning,
            r.schedule ?? '',
            r.controls.join(', '),
            r.description,
          ]),
        ),
      );
    });
}
