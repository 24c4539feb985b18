import type { Command } from 'commander';
import type { JobClient } from '../../client/client';
import type { SyncReport } from '../../client/schedules';
import { lazy } from '../lazy';
import { print, table } from '../output';

/** One line per change, then a count of the unchanged: what `schedules sync` and `dev` print. */
export function formatSyncReport(report: SyncReport): string {
  const lines = [
    ...report.created.map((c) => `created    ${c.scheduleId}  (${c.job})`),
    ...report.updated.map((c) => `updated    ${c.scheduleId}  (${c.job})`),
    ...report.deleted.map((c) => `deleted    ${c.scheduleId}  (${c.job})`),
    ...report.unchanged.map((c) => `unchanged  ${c.scheduleId}  (${c.job})`),
  ];
  return lines.length === 0 ? 'No schedules declared, none to delete.' : lines.join('\n');
}

async function withClient<T>(fn: (client: JobClient) => Promise<T>): Promise<T> {
  const client = await lazy.client().JobClient.connect();
  try {
    return await fn(client);
  } finally {
    await client.close();
  }
}

/** `jobctl schedules …`: recurring jobs, declared with `schedule` in a job's declaration. */
export function addScheduleCommands(program: Command): void {
  const schedules = program
    .command('schedules')
    .description(
      "recurring jobs: the Temporal Schedules compiled from the jobs' `schedule` declarations (README: Recurring jobs)",
    );

  schedules
    .command('list')
    .description("each declared schedule with its Schedule's state, next and last run; then owned ones no job declares")
    .option('--json', 'print one JSON array')
    .action(async (opts: { json?: boolean }) => {
      const rows = await withClient((client) => lazy.schedules().listSchedules(client));
      print(!!opts.json, rows, () =>
        rows.length === 0
          ? 'No job declares a schedule.'
          : table(
              ['JOB', 'WHEN', 'STATE', 'NEXT RUN', 'LAST RUN', 'SCHEDULE ID'],
              rows.map((r) => [r.job, r.when, r.state, r.nextRun ?? '', r.lastRun ?? '', r.scheduleId]),
            ),
      );
    });

  schedules
    .command('sync')
    .description(
      'make the Schedules match the declarations: create missing, update changed, delete owned ones no job declares; ' +
        'Schedules this deployment does not own are never touched. Idempotent. Run it once per deploy (see README)',
    )
    .option('--json', 'print {created, updated, deleted, unchanged} as one JSON object')
    .action(async (opts: { json?: boolean }) => {
      const report = await withClient((client) => lazy.schedules().syncSchedules(client));
      print(!!opts.json, report, () => formatSyncReport(report));
    });

  const onJob = (
    name: string,
    done: string,
    description: string,
    run: (client: JobClient, job: string) => Promise<string>,
    options: { declared: boolean } = { declared: true },
  ) =>
    schedules
      .command(name)
      .description(description)
      .argument('<job>', 'the job whose Schedule it is')
      .action(async (job: string) => {
        if (options.declared) {
          // Before connecting: an unknown job, or one without a schedule, never needs a server to be refused.
          if (!lazy.jobs().findJobOrThrow(job).schedule)
            throw new (lazy.schedules().ScheduleMissingError)(`job "${job}" declares no schedule`);
        }
        const scheduleId = await withClient((client) => run(client, job));
        process.stdout.write(`${done} ${scheduleId}\n`);
      });

  onJob(
    'pause',
    'paused',
    "pause a job's Schedule: no run starts until it is unpaused (sync keeps the pause)",
    (client, job) => lazy.schedules().pauseSchedule(client, job),
  );
  onJob('unpause', 'unpaused', "unpause a job's Schedule", (client, job) =>
    lazy.schedules().unpauseSchedule(client, job),
  );
  onJob(
    'trigger',
    'triggered',
    "start one run of a job's Schedule now, with its declared arguments (under its overlap policy)",
    (client, job) => lazy.schedules().triggerSchedule(client, job),
  );
  onJob(
    'delete',
    'deleted',
    "delete a job's Schedule (runs it started go on); a job that still declares one gets it back at the next sync",
    (client, job) => lazy.schedules().deleteSchedule(client, job),
    { declared: false },
  );
}
