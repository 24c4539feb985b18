import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { JobRunStatus } from '../src/client/client';
import { formatProgress, formatStatus } from '../src/cli/status-text';
import { watchJob } from '../src/cli/watch';
import type { OutputStream } from '../src/cli/watch-display';
import type { WatchSource } from '../src/cli/watch-source';
import { formatNumber } from '../src/format';
import { JobNotFoundError } from '../src/sandbox/errors';
import { computeProgress, type JobProgress } from '../src/sandbox/progress';
import { createHarness, type Harness } from './harness';
import { jobctl } from './jobctl';

/** The escape character that starts every terminal control sequence (colours, cursor moves). */
const ESC = '\u001b';

const progress = (over: Partial<JobProgress> = {}): JobProgress => ({
  phase: 'running',
  unit: 'slices',
  total: 1000,
  done: 412,
  failed: 3,
  percent: 41.5,
  ratePerSecond: 12.5,
  etaSeconds: 47,
  ...over,
});

/** The progress line of `progress()`. */
const PROGRESS_LINE = '412/1000 slices (41.5%), 3 failed, 12.5 slices/s, ETA 47 s, phase running';

describe('formatProgress', () => {
  it('shows done/total, percent, failed, rate, ETA and phase', () => {
    expect(formatProgress(progress())).toBe(PROGRESS_LINE);
  });

  it('leaves out what is not known or zero', () => {
    const starting = { failed: 0, ratePerSecond: 0, etaSeconds: undefined, done: 0, percent: 0, phase: 'preparing' };
    expect(formatProgress(progress(starting))).toBe('0/1000 slices (0%), phase preparing');
    expect(formatProgress(progress({ total: 0, done: 5, failed: 0, percent: 0, etaSeconds: undefined }))).toBe(
      '5 slices (total not known yet), 12.5 slices/s, phase running',
    );
  });

  it('formats rates and durations of any size', () => {
    const line = (over: Partial<JobProgress>) => formatProgress(progress(over));
    expect(line({ ratePerSecond: 1234.56, etaSeconds: 200 })).toContain('1235 slices/s, ETA 3 min 20 s');
    expect(line({ ratePerSecond: 0.25, etaSeconds: 7500 })).toContain('0.25 slices/s, ETA 2 h 5 min');
    expect(line({ ratePerSecond: 12.5, etaSeconds: 3600 })).toContain('12.5 slices/s, ETA 1 h');
    const numbers = [1234.56, 99.96, 12.54, 9.996, 0.254, 0];
    expect(numbers.map(formatNumber)).toEqual(['1235', '100', '12.5', '10', '0.25', '0']);
  });

  it('formats what computeProgress builds', () => {
    // 400 done + 20 failed of 1000 in 40 s: 10.5 per second, 580 left.
    expect(formatProgress(computeProgress('running', 'records', 1000, 400, 20, 40_000))).toBe(
      '400/1000 records (42%), 20 failed, 10.5 records/s, ETA 55 s, phase running',
    );
  });

  it('is the progress line of the status block', () => {
    const status: JobRunStatus = { ...runStatus('Running'), progress: progress() };
    expect(formatStatus(status)).toMatch(new RegExp(`\\n  progress +${escapeRegExp(PROGRESS_LINE)}\\n`));
    expect(formatStatus(runStatus('Running'))).not.toContain('progress');
  });
});

function runStatus(status: JobRunStatus['status'], over: Partial<JobRunStatus> = {}): JobRunStatus {
  return {
    workflowId: 'large-data-export/7',
    runId: 'run-1',
    job: 'large-data-export',
    status,
    startTime: '2026-11-28T10:00:00.000Z',
    url: 'http://ui.test/run-1',
    ...over,
  };
}

/** A job seen through a scripted source: each poll takes the next step; the last step repeats. */
function scripted(
  steps: Array<{ progress?: JobProgress | Error; closed?: JobRunStatus; notFound?: true }>,
): WatchSource & { polls: number } {
  const source = {
    polls: 0,
    step() {
      return steps[Math.min(source.polls, steps.length - 1)]!;
    },
    async state(workflowId: string) {
      const step = source.step();
      if (step.notFound) throw new JobNotFoundError(workflowId);
      if (step.closed) return { open: false, startTime: new Date(Date.now() - 5000) };
      return { open: true, startTime: new Date(Date.now() - 5000) };
    },
    async progress() {
      const step = source.step();
      source.polls++;
      if (step.progress instanceof Error) throw step.progress;
      return step.progress;
    },
    async status() {
      return source.step().closed!;
    },
  };
  return source;
}

function capture(isTTY: boolean): OutputStream & { text: string } {
  const stream = {
    text: '',
    isTTY,
    columns: 200,
    write(chunk: string) {
      stream.text += chunk;
      return true;
    },
  };
  return stream;
}

describe('watchJob (scripted job)', () => {
  const completed = runStatus('Completed', { closeTime: '2026-11-28T10:05:00.000Z', result: { rows: 100_000 } });
  const failed = runStatus('Failed', {
    closeTime: '2026-11-28T10:05:00.000Z',
    failure: { type: 'SliceFailed', message: 'slice 3 failed' },
  });

  it('on a terminal: draws a bar with the progress, then prints the final status; exit 0', async () => {
    const stdout = capture(false);
    const stderr = capture(true);
    const source = scripted([
      { progress: progress({ done: 100, percent: 10 }) },
      { progress: progress() },
      { closed: completed },
    ]);
    expect(await watchJob(source, 'large-data-export/7', { intervalMs: 150, stdout, stderr })).toBe(0);
    expect(stderr.text).toContain('█'.repeat(10)); // 41.5% of 24 cells
    expect(stderr.text).toContain(`large-data-export/7  ${PROGRESS_LINE}`);
    expect(stderr.text).toContain('\x1b[?25h'); // cursor shown again
    expect(stdout.text).toBe(`${formatStatus(completed)}\n`);
    expect(stdout.text).toMatch(/\n {2}result +\{"rows":100000\}\n/);
  });

  it('on a terminal without progress: a spinner with the elapsed time, cleared at the end', async () => {
    const stdout = capture(false);
    const stderr = capture(true);
    const source = scripted([{ progress: undefined }, { progress: undefined }, { closed: completed }]);
    expect(await watchJob(source, 'invoice-generation/1', { intervalMs: 150, stdout, stderr })).toBe(0);
    expect(stderr.text).toMatch(/[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏] invoice-generation\/1 {2}Running, 5 s elapsed \(no progress reported\)/);
    expect(stderr.text).toContain('\x1b[2K'); // the spinner line is cleared
  });

  it('not on a terminal: plain lines at most every ~2 s, never redrawn', async () => {
    const stdout = capture(false);
    const stderr = capture(false);
    const steps = Array.from({ length: 10 }, (_, i) => ({ progress: progress({ done: i * 10, percent: i + 0.3 }) }));
    const source = scripted([...steps, { closed: completed }]);
    expect(await watchJob(source, 'large-data-export/7', { intervalMs: 20, stdout, stderr })).toBe(0);
    expect(source.polls).toBe(10);
    expect(stderr.text).toBe(
      'large-data-export/7  0/1000 slices (0.3%), 3 failed, 12.5 slices/s, ETA 47 s, phase running\n',
    );
    expect(stderr.text).not.toContain(ESC);

    const often = capture(false);
    await watchJob(scripted([...steps, { closed: completed }]), 'large-data-export/7', {
      intervalMs: 20,
      stdout,
      stderr: often,
      plainLineIntervalMs: 0,
    });
    expect(often.text.trim().split('\n')).toHaveLength(10);
  });

  it('keeps the last progress when a query goes unanswered', async () => {
    const stderr = capture(false);
    const source = scripted([
      { progress: new Error('query timed out') },
      { progress: progress() },
      { progress: new Error('query timed out') },
      { closed: completed },
    ]);
    const options = { intervalMs: 10, stdout: capture(false), stderr, plainLineIntervalMs: 0 };
    expect(await watchJob(source, 'large-data-export/7', options)).toBe(0);
    expect(stderr.text.trim().split('\n')).toEqual([
      'large-data-export/7  Running, 5 s elapsed (no worker has answered yet)',
      expect.stringContaining('412/1000 slices'),
    ]);
  });

  it('a failed run: the status block on stdout, one failure line on stderr, exit 1', async () => {
    const stdout = capture(false);
    const stderr = capture(false);
    expect(await watchJob(scripted([{ closed: failed }]), 'large-data-export/7', { stdout, stderr })).toBe(1);
    expect(stdout.text).toMatch(/\n {2}failure +SliceFailed: slice 3 failed\n/);
    expect(stderr.text).toBe('jobctl: large-data-export/7 failed: SliceFailed: slice 3 failed\n');
    for (const status of ['TimedOut', 'Terminated', 'Canceled'] as const) {
      const options = { stdout: capture(false), stderr: capture(false) };
      expect(await watchJob(scripted([{ closed: runStatus(status) }]), 'x/1', options)).toBe(1);
    }
  });

  it('--json: only the final status object on stdout, nothing on stderr', async () => {
    const stdout = capture(false);
    const stderr = capture(true);
    const source = scripted([{ progress: progress() }, { closed: failed }]);
    const options = { intervalMs: 10, json: true, stdout, stderr, extraJson: { duplicate: false } };
    expect(await watchJob(source, 'large-data-export/7', options)).toBe(1);
    expect(JSON.parse(stdout.text)).toEqual({ ...failed, duplicate: false });
    expect(stdout.text.trim().split('\n')).toHaveLength(1);
    expect(stderr.text).toBe('');
  });

  it('an unknown workflow ID throws before anything is drawn', async () => {
    const stderr = capture(true);
    const watching = watchJob(scripted([{ notFound: true }]), 'nope/1', { stdout: capture(false), stderr });
    await expect(watching).rejects.toThrow(JobNotFoundError);
    expect(stderr.text).toBe('');
  });

  it('Ctrl-C stops watching, says so, exit 130', async () => {
    const stdout = capture(false);
    const stderr = capture(true);
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 300);
    const started = Date.now();
    const options = { intervalMs: 10_000, stdout, stderr, signal: controller.signal };
    expect(await watchJob(scripted([{ progress: progress() }]), 'large-data-export/7', options)).toBe(130);
    expect(Date.now() - started).toBeLessThan(2000);
    expect(stderr.text).toContain(
      'jobctl: stopped watching large-data-export/7; ' +
        'the job itself keeps running (jobctl status large-data-export/7)\n',
    );
    expect(stdout.text).toBe('');
  });
});

describe('jobctl watch and enqueue --wait (real server)', () => {
  let h: Harness;
  let env: Record<string, string>;
  beforeAll(async () => {
    h = await createHarness();
    await h.startWorkers();
    env = {
      TEMPORAL_ADDRESS: inject('temporalAddress'),
      JOBS_TASK_QUEUE_PREFIX: h.taskQueuePrefix,
      TEMPORAL_UI_URL: 'http://ui.test',
    };
  });
  afterAll(() => h?.close());

  /** An invoice id in this harness's range that has no invoice: its job fails at once with RecordNotFound. */
  const missingInvoiceId = async () => (await h.createInvoice()).invoiceId + 500;

  it('enqueue --wait prints the enqueue lines, then the completed status with its result; exit 0', async () => {
    const { invoiceId } = await h.createInvoice();
    const workflowId = `invoice-generation/${invoiceId}`;
    const args = ['enqueue', 'invoice-generation', JSON.stringify({ invoiceId }), '--wait', '--interval', '200'];
    const run = await jobctl(args, env);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(
      new RegExp(`^Enqueued ${workflowId}\\n  run .*\\n  web ui .*\\n${workflowId}  Completed\\n`),
    );
    expect(run.stdout).toContain(`"invoiceId":${invoiceId}`);
    expect(run.stdout).toContain('"alreadyGenerated":false');
    expect(run.stderr).not.toMatch(/failed/);
    expect(run.stderr).not.toContain(ESC); // not a TTY: at most plain lines, no escape codes
  });

  it('enqueue --wait --json prints one JSON object: the final status and the duplicate flag', async () => {
    const { invoiceId } = await h.createInvoice();
    const run = await jobctl(['enqueue', 'invoice-generation', JSON.stringify({ invoiceId }), '--wait', '--json'], env);
    expect(run).toMatchObject({ code: 0, stderr: '' });
    expect(run.stdout.trim().split('\n')).toHaveLength(1);
    expect(JSON.parse(run.stdout)).toMatchObject({
      workflowId: `invoice-generation/${invoiceId}`,
      status: 'Completed',
      result: { invoiceId, alreadyGenerated: false },
      duplicate: false,
    });
  });

  it('watch on a job that fails: status block on stdout, one failure line on stderr; exit 1', async () => {
    const invoiceId = await missingInvoiceId();
    const workflowId = `invoice-generation/${invoiceId}`;
    expect((await jobctl(['enqueue', 'invoice-generation', JSON.stringify({ invoiceId })], env)).code).toBe(0);
    const run = await jobctl(['watch', workflowId, '--interval', '200'], env);
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(new RegExp(`^${workflowId}  Failed\\n`));
    expect(run.stdout).toMatch(new RegExp(`\\n {2}failure +RecordNotFound: invoice ${invoiceId} does not exist\\n`));
    const stderr = run.stderr.trim().split('\n');
    const failureLine = `jobctl: ${workflowId} failed: RecordNotFound: invoice ${invoiceId} does not exist`;
    expect(stderr.filter((line) => line.startsWith('jobctl:'))).toEqual([failureLine]);
    expect(stderr.at(-1)).toBe(failureLine);
  });

  it('enqueue --wait on a job that fails exits 1 with the failure line', async () => {
    const invoiceId = await missingInvoiceId();
    const run = await jobctl(['enqueue', 'invoice-generation', JSON.stringify({ invoiceId }), '--wait'], env);
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(/^Enqueued invoice-generation\/\d+\n/);
    expect(run.stderr.trim().split('\n').at(-1)).toBe(
      `jobctl: invoice-generation/${invoiceId} failed: RecordNotFound: invoice ${invoiceId} does not exist`,
    );
  });

  it('watch --json prints exactly one JSON object, the final status', async () => {
    const invoiceId = await missingInvoiceId();
    const workflowId = `invoice-generation/${invoiceId}`;
    await jobctl(['enqueue', 'invoice-generation', JSON.stringify({ invoiceId })], env);
    const run = await jobctl(['watch', workflowId, '--json'], env);
    expect(run).toMatchObject({ code: 1, stderr: '' });
    expect(run.stdout.trim().split('\n')).toHaveLength(1);
    const status = JSON.parse(run.stdout);
    expect(status).toMatchObject({
      workflowId,
      job: 'invoice-generation',
      status: 'Failed',
      failure: { type: 'RecordNotFound', message: `invoice ${invoiceId} does not exist` },
    });
    expect(status).toEqual(JSON.parse((await jobctl(['status', workflowId, '--json'], env)).stdout));
  });

  it('watch on an unknown workflow ID exits 1 with one clear line', async () => {
    const run = await jobctl(['watch', 'invoice-generation/does-not-exist'], env);
    expect(run.code).toBe(1);
    expect(run.stdout).toBe('');
    expect(run.stderr).toBe('jobctl: No job run with workflow ID "invoice-generation/does-not-exist"\n');
  });

  it('watch rejects a bad --interval', async () => {
    const run = await jobctl(['watch', 'invoice-generation/1', '--interval', 'soon'], env);
    expect(run.code).toBe(1);
    expect(run.stderr.trim().split('\n')).toHaveLength(1);
    expect(run.stderr).toMatch(/--interval.*must be a positive integer/);
  });
});

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
