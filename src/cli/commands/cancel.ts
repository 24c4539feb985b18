import { createInterface } from 'node:readline/promises';
import { Command, InvalidArgumentError, Option } from 'commander';
import type { CancellableStatus, CancelResult, JobClient } from '../../client/client';
import { lazy } from '../lazy';
import { fields, print } from '../output';

function parseCancellableStatus(value: string): CancellableStatus {
  const match = (['Running', 'Scheduled'] as const).find((s) => s.toLowerCase() === value.toLowerCase());
  if (!match) throw new InvalidArgumentError('must be Running or Scheduled');
  return match;
}

interface CancelOptions {
  job?: string;
  status?: CancellableStatus;
  yes?: boolean;
  json?: boolean;
}

/** `jobctl cancel`: one run by workflow ID, or every open run of a job after a confirmation. */
export function addCancelCommand(program: Command): void {
  program
    .command('cancel')
    .description(
      'cancel a job: its latest run stops (activities in flight are cancelled, an export stops starting slices) ' +
        'and closes as Canceled — not failed, not dead, and the same key can be enqueued again. ' +
        'One by workflow ID, or every open run of a job with --job (asks first; --yes skips)',
    )
    .argument('[workflowId]', 'the job run to cancel, e.g. process-webhook/42')
    .option('--job <name>', 'bulk: every open run of this job (`jobctl jobs` lists them)')
    .addOption(
      new Option(
        '--status <status>',
        'bulk: only Running runs (started) or Scheduled ones (waiting for their start time)',
      ).argParser(parseCancellableStatus),
    )
    .option('--yes', 'bulk: cancel without asking (needed when stdin is not a terminal)')
    .option('--json', 'print one JSON object')
    .addHelpText(
      'after',
      [
        '',
        'Examples:',
        '  jobctl cancel process-webhook/42',
        '  jobctl cancel --job large-data-export --status Running',
        '  jobctl cancel --job send-welcome-email --status Scheduled --yes --json',
        '',
        'A run that already closed is left alone ("not cancelled: it already closed as Completed"); exit code 0.',
      ].join('\n'),
    )
    .action(async (workflowId: string | undefined, opts: CancelOptions) => {
      if (workflowId && (opts.job !== undefined || opts.status !== undefined))
        throw new Error('give either a workflow ID or --job [--status], not both');
      if (!workflowId && opts.job === undefined)
        throw new Error('give a workflow ID, or select the runs to cancel with --job <name> [--status]');
      if (opts.status !== undefined && opts.job === undefined) throw new Error('--status needs --job');
      if (opts.job) lazy.jobs().findJobOrThrow(opts.job); // an unknown job is an error before connecting
      const client = await lazy.client().JobClient.connect();
      try {
        if (workflowId) await cancelOne(client, workflowId, opts);
        else await cancelBulk(client, opts as CancelOptions & { job: string });
      } finally {
        await client.close();
      }
    });
}

async function cancelOne(client: JobClient, workflowId: string, opts: CancelOptions): Promise<void> {
  const result = await client.cancel(workflowId);
  print(!!opts.json, result, () => describeResult(result));
}

function describeResult(r: CancelResult): string {
  if (!r.cancelled) return `Not cancelled ${r.workflowId}: it already closed as ${r.status}`;
  return [
    `Cancellation requested for ${r.workflowId}; it closes as Canceled once its work has stopped`,
    fields([
      ['run', r.runId],
      ['web ui', r.url],
    ]),
  ].join('\n');
}

async function cancelBulk(client: JobClient, opts: CancelOptions & { job: string }): Promise<void> {
  const filter = { job: opts.job, status: opts.status };
  const what = `${opts.status ? `${opts.status} ` : 'open (running or scheduled) '}runs of ${opts.job}`;
  const targets = await client.cancellable(filter);
  if (targets.length === 0) {
    print(!!opts.json, { count: 0, workflowIds: [] }, () => `No ${what} to cancel.`);
    return;
  }
  const count = `${targets.length} ${what}`;
  if (!opts.yes) {
    if (!process.stdin.isTTY) {
      throw new Error(`refusing to cancel ${count} without confirmation: stdin is not a terminal; pass --yes`);
    }
    process.stderr.write(`This cancels ${count}.\n`);
    const rl = createInterface({ input: process.stdin, output: process.stderr });
    const answer = await rl.question(`Cancel ${targets.length}? [y/N] `);
    rl.close();
    if (!/^y(es)?$/i.test(answer.trim())) {
      process.stderr.write('Nothing cancelled.\n');
      process.exitCode = 1;
      return;
    }
  } else if (!opts.json) {
    process.stdout.write(`Cancelling ${count}\n`);
  }
  // Progress on stderr, one rewritten line on a terminal, so stdout holds only the result.
  let done = 0;
  const progress = () => {
    if (!process.stderr.isTTY) return;
    process.stderr.write(`\rcancelled ${done}/${targets.length}`);
  };
  progress();
  // The runs counted above (a run started since is not cancelled without being counted and confirmed).
  const result = await client.cancelMany(filter, {
    only: targets.map((t) => t.workflowId),
    onCancelled: () => {
      done++;
      progress();
    },
  });
  if (process.stderr.isTTY) process.stderr.write('\n');
  const skipped = targets.length - result.count;
  print(!!opts.json, result, () =>
    [`Cancelled ${result.count} ${what}`, ...(skipped > 0 ? [`${skipped} closed meanwhile (not cancelled)`] : [])].join(
      '\n',
    ),
  );
}
