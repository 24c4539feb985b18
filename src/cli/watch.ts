import { WorkflowNotFoundError } from '@temporalio/client';
import { Format, SingleBar, type Options as BarOptions } from 'cli-progress';
import type { JobClient, JobRunStatus } from '../client';
import { JobNotFoundError } from '../errors';
import { formatDuration, formatNumber, formatPercent } from '../format';
import type { JobProgress } from '../progress';
import { fields } from './output';

/**
 * `jobctl watch` and `jobctl enqueue --wait`: follow a job until its run closes. While the run is open, stderr shows a
 * progress bar (when the workflow answers the `progress` query) or a spinner with the elapsed time; when stderr is not
 * a terminal, a plain line at most every ~2 s instead. When it closes, stdout gets the same status block as
 * `jobctl status`, and the exit code says how it ended.
 */

// ---------------------------------------------------------------------------------------------------------------------
// Formatting

/** `412/1000 slices (41.2%), 3 failed, 12.5 slices/s, ETA 47 s, phase running` — `jobctl status` and plain watch lines. */
export function formatProgress(p: JobProgress): string {
  const unit = p.unit || 'units';
  const parts = [p.total > 0 ? `${p.done}/${p.total} ${unit} (${formatPercent(p.percent / 100)})` : `${p.done} ${unit} (total not known yet)`];
  if (p.failed > 0) parts.push(`${p.failed} failed`);
  if (p.ratePerSecond > 0) parts.push(`${formatNumber(p.ratePerSecond)} ${unit}/s`);
  if (p.etaSeconds !== undefined && Number.isFinite(p.etaSeconds) && p.etaSeconds >= 0) parts.push(`ETA ${formatDuration(p.etaSeconds * 1000)}`);
  if (p.phase) parts.push(`phase ${p.phase}`);
  return parts.join(', ');
}

/** The human form of a run's status: what `jobctl status` prints, and `jobctl watch` once the run closes. */
export function formatStatus(s: JobRunStatus): string {
  return [
    `${s.workflowId}  ${s.status}`,
    fields([
      ['job', s.job],
      ['run', s.runId],
      ['started', s.startTime],
      ['closed', s.closeTime],
      ['progress', s.progress ? formatProgress(s.progress) : undefined],
      ['result', s.result === undefined ? undefined : JSON.stringify(s.result)],
      ['failure', s.failure ? `${s.failure.type ?? 'Error'}: ${s.failure.message}` : undefined],
      ['web ui', s.url],
    ]),
  ].join('\n');
}

/** `<workflowId> failed: <type>: <message>` for a run that closed unsuccessfully (written after `jobctl: `). */
export function failureLine(s: JobRunStatus): string {
  const type = s.failure?.type ?? s.status;
  const message = (s.failure?.message ?? `the run closed as ${s.status}`).replace(/\s*\n\s*/g, ' ');
  return `${s.workflowId} failed: ${type}: ${message}`;
}

// ---------------------------------------------------------------------------------------------------------------------
// What watch reads

/** The latest run of a workflow ID, as far as watching needs it. */
export interface RunState {
  /** True while the run is open (a continued-as-new run is followed into its successor). */
  open: boolean;
  startTime: Date;
}

/** What `watchJob` reads about a job. `jobClientSource` is the real one; tests can script one. */
export interface WatchSource {
  /** State of the latest run; throws `JobNotFoundError` for an unknown workflow ID. */
  state(workflowId: string): Promise<RunState>;
  /** The workflow's answer to the progress query; undefined when it has no progress handler. */
  progress(workflowId: string): Promise<JobProgress | undefined>;
  /** The full status, read once the run has closed. */
  status(workflowId: string): Promise<JobRunStatus>;
}

/** How long one progress query may take before this poll goes without it (a busy or absent worker answers late). */
const PROGRESS_QUERY_TIMEOUT_MS = 5_000;

/** Reads through a JobClient; `signal` cancels the RPCs in flight (Ctrl-C does not wait for a slow query). */
export function jobClientSource(client: JobClient, signal?: AbortSignal): WatchSource {
  const cancellable = async <T>(fn: () => Promise<T>): Promise<T> => {
    if (!signal) return fn();
    // A signal per call: the SDK adds an abort listener per RPC and never removes it, so the long-lived one would leak.
    const call = new AbortController();
    const onAbort = () => call.abort();
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      return await client.temporal.withAbortSignal(call.signal, fn);
    } finally {
      signal.removeEventListener('abort', onAbort);
    }
  };
  return {
    state: (workflowId) =>
      cancellable(async () => {
        try {
          const d = await client.temporal.workflow.getHandle(workflowId).describe();
          return { open: d.status.name === 'RUNNING' || d.status.name === 'CONTINUED_AS_NEW', startTime: d.startTime };
        } catch (err) {
          if (err instanceof WorkflowNotFoundError) throw new JobNotFoundError(workflowId);
          throw err;
        }
      }),
    progress: (workflowId) => cancellable(() => client.temporal.withDeadline(Date.now() + PROGRESS_QUERY_TIMEOUT_MS, () => client.progress(workflowId))),
    status: (workflowId) => cancellable(() => client.status(workflowId)),
  };
}

// ---------------------------------------------------------------------------------------------------------------------
// Watching

/** A stream as watch writes to it; stderr's `isTTY` and `columns` choose between redrawing and plain lines. */
export interface OutputStream {
  write(chunk: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

export interface WatchOptions {
  /** Poll every this many ms. @default 1000 */
  intervalMs?: number;
  /** Print only the final status, as one JSON object, on stdout; nothing while watching. */
  json?: boolean;
  /** Stops watching (not the job): Ctrl-C. */
  signal?: AbortSignal;
  /** Merged into the final status object printed with `json` (e.g. enqueue's `duplicate` flag). */
  extraJson?: Record<string, unknown>;
  /** @default process.stdout */
  stdout?: OutputStream;
  /** @default process.stderr */
  stderr?: OutputStream;
  /** When stderr is not a TTY, at most one plain progress line per this many ms. @default 2000 */
  plainLineIntervalMs?: number;
}

/** Exit codes of watching: the run completed; it closed otherwise (failed, timed out, terminated, canceled); Ctrl-C. */
export const WATCH_EXIT = { completed: 0, failed: 1, interrupted: 130 } as const;

/**
 * Follows a job's latest run until it closes; returns the process exit code. Errors reading the run (an unknown
 * workflow ID, an unreachable server) are thrown before anything was drawn, or after the display was cleared.
 */
export async function watchJob(client: JobClient | WatchSource, workflowId: string, options: WatchOptions = {}): Promise<number> {
  const source = 'temporal' in client ? jobClientSource(client, options.signal) : client;
  const intervalMs = options.intervalMs ?? 1000;
  const stdout = options.stdout ?? process.stdout;
  const stderr = options.stderr ?? process.stderr;
  const display: Display = options.json
    ? { open() {}, answer() {}, stop() {} }
    : stderr.isTTY
      ? new TerminalDisplay(workflowId, stderr)
      : new PlainDisplay(workflowId, stderr, options.plainLineIntervalMs ?? 2000);
  const interrupted = () => {
    display.stop();
    stderr.write(`jobctl: stopped watching ${workflowId}; the job itself keeps running (jobctl status ${workflowId})\n`);
    return WATCH_EXIT.interrupted;
  };

  try {
    for (;;) {
      const state = await abortable(readState(source, workflowId), options.signal);
      if (state === ABORTED) return interrupted();
      if (state.closed) {
        display.stop();
        const s = state.closed;
        if (options.json) {
          stdout.write(`${JSON.stringify({ ...s, ...options.extraJson })}\n`);
        } else {
          stdout.write(`${formatStatus(s)}\n`);
          if (s.status !== 'Completed') stderr.write(`jobctl: ${failureLine(s)}\n`);
        }
        return s.status === 'Completed' ? WATCH_EXIT.completed : WATCH_EXIT.failed;
      }
      // Draw before querying: a busy or absent worker answers the query late, and the spinner keeps turning meanwhile.
      display.open(state.startTime);
      const answer = await abortable(
        source.progress(workflowId).then(
          (progress): Answer => progress ?? NO_PROGRESS,
          (): Answer => UNANSWERED,
        ),
        options.signal,
      );
      if (answer === ABORTED) return interrupted();
      display.answer(state.startTime, answer);
      if (await sleep(intervalMs, options.signal)) return interrupted();
    }
  } finally {
    display.stop();
  }
}

type State = { closed: JobRunStatus; startTime?: undefined } | { closed?: undefined; startTime: Date };

/** Whether the latest run is still open; its full status once it closed. */
async function readState(source: WatchSource, workflowId: string): Promise<State> {
  const state = await source.state(workflowId);
  if (state.open) return { startTime: state.startTime };
  const status = await source.status(workflowId);
  // A new run may have started in between (a retry): then keep following that one.
  if (status.status === 'Running' || status.status === 'ContinuedAsNew') return { startTime: new Date(status.startTime) };
  return { closed: status };
}

/** The workflow has no progress handler. */
const NO_PROGRESS = 'no progress';
/** The query failed or timed out (no worker polling, or a busy one): whatever is shown stays. */
const UNANSWERED = 'unanswered';
type Answer = JobProgress | typeof NO_PROGRESS | typeof UNANSWERED;

/** The line shown while there is no progress to show. */
function runningText(workflowId: string, startTime: Date, answer: Answer | undefined): string {
  const why = answer === NO_PROGRESS ? ' (no progress reported)' : answer === UNANSWERED ? ' (no worker has answered yet)' : '';
  // Whole seconds, as a clock counts; never negative, whatever the skew between this clock and the server's.
  const elapsedMs = Math.max(0, Math.floor((Date.now() - startTime.getTime()) / 1000) * 1000);
  return `${workflowId}  Running, ${formatDuration(elapsedMs)} elapsed${why}`;
}

/**
 * Writing the run's progress to stderr while it is open. One of: a redrawn bar or spinner line (TTY), plain lines (CI
 * logs), nothing (--json).
 */
interface Display {
  /** The run is open; called on every poll before its progress is queried. */
  open(startTime: Date): void;
  /** What the progress query answered. */
  answer(startTime: Date, answer: Answer): void;
  /** Stops redrawing (the bar's last state stays on screen, a spinner line is cleared); idempotent. */
  stop(): void;
}

const SPINNER_FRAMES = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

/** A cli-progress bar while the workflow reports progress, a spinner with the elapsed time while it does not. */
class TerminalDisplay implements Display {
  private bar: SingleBar | undefined;
  private spinner: { bar: SingleBar; timer: NodeJS.Timeout; startTime: Date; answer: Answer | undefined; frame: number } | undefined;

  constructor(
    private readonly workflowId: string,
    private readonly stream: OutputStream,
  ) {}

  open(startTime: Date): void {
    if (this.bar) return;
    if (this.spinner) this.spinner.startTime = startTime;
    else this.startSpinner(startTime, undefined);
  }

  answer(startTime: Date, answer: Answer): void {
    if (typeof answer === 'object') return this.showProgress(answer);
    if (answer === UNANSWERED && this.bar) return; // keep the last progress
    this.stopBar();
    if (!this.spinner) return this.startSpinner(startTime, answer);
    this.spinner.startTime = startTime;
    this.spinner.answer = answer;
  }

  stop(): void {
    this.stopSpinner();
    this.stopBar();
  }

  private showProgress(progress: JobProgress): void {
    this.stopSpinner();
    const payload = { text: `${this.workflowId}  ${formatProgress(progress)}`, ratio: progress.total > 0 ? progress.percent / 100 : 0 };
    if (this.bar) return this.bar.update(0, payload);
    this.bar = new SingleBar({
      ...this.barOptions(),
      barsize: 24,
      barCompleteChar: '█',
      barIncompleteChar: '░',
      format: (options, _params, p: typeof payload) => `${Format.BarFormat(Math.min(1, Math.max(0, p.ratio)), options)} ${p.text}`,
    });
    this.bar.start(1, 0, payload);
  }

  private startSpinner(startTime: Date, answer: Answer | undefined): void {
    const bar = new SingleBar({ ...this.barOptions(), clearOnComplete: true, format: (_o, _p, p: { text: string }) => p.text });
    const text = () => `${SPINNER_FRAMES[spinner.frame % SPINNER_FRAMES.length]} ${runningText(this.workflowId, spinner.startTime, spinner.answer)}`;
    const spinner = {
      bar,
      startTime,
      answer,
      frame: 0,
      timer: setInterval(() => {
        spinner.frame++;
        bar.update(0, { text: text() });
      }, 100),
    };
    this.spinner = spinner;
    bar.start(1, 0, { text: text() });
  }

  private barOptions(): BarOptions {
    return { stream: this.stream as NodeJS.WritableStream, hideCursor: true, linewrap: false, fps: 10, gracefulExit: false };
  }

  private stopSpinner(): void {
    if (!this.spinner) return;
    clearInterval(this.spinner.timer);
    this.spinner.bar.stop();
    this.spinner = undefined;
  }

  private stopBar(): void {
    this.bar?.stop();
    this.bar = undefined;
  }
}

/**
 * Plain lines for logs, one per query answer at most every `minIntervalMs`; a line that says nothing new (the same
 * progress, or only a longer elapsed time) at most every 30 s.
 */
class PlainDisplay implements Display {
  private lastKey: string | undefined;
  private lastAt = 0;

  constructor(
    private readonly workflowId: string,
    private readonly stream: OutputStream,
    private readonly minIntervalMs: number,
    private readonly repeatIntervalMs = 30_000,
  ) {}

  open(): void {}

  answer(startTime: Date, answer: Answer): void {
    if (answer === UNANSWERED && this.lastKey !== undefined && this.lastKey !== NO_PROGRESS) return; // keep the last progress
    const now = Date.now();
    const key = typeof answer === 'object' ? formatProgress(answer) : answer;
    const since = now - this.lastAt;
    if (this.lastKey !== undefined && (since < this.minIntervalMs || (key === this.lastKey && since < this.repeatIntervalMs))) return;
    this.stream.write(`${typeof answer === 'object' ? `${this.workflowId}  ${key}` : runningText(this.workflowId, startTime, answer)}\n`);
    this.lastKey = key;
    this.lastAt = now;
  }

  stop(): void {}
}

// ---------------------------------------------------------------------------------------------------------------------
// CLI glue

/** `watchJob` with Ctrl-C wired to stop watching; what `jobctl watch` and `jobctl enqueue --wait` run. */
export async function watchFromCli(client: JobClient, workflowId: string, options: Omit<WatchOptions, 'signal'>): Promise<number> {
  const controller = new AbortController();
  const onSignal = () => controller.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    return await watchJob(client, workflowId, { ...options, signal: controller.signal });
  } finally {
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
  }
}

const ABORTED = Symbol('aborted');

/** Races a promise against the signal; the promise's later rejection, if any, is absorbed. */
function abortable<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T | typeof ABORTED> {
  if (!signal) return promise;
  promise.catch(() => {});
  if (signal.aborted) return Promise.resolve(ABORTED);
  return new Promise((resolve, reject) => {
    const onAbort = () => resolve(ABORTED);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(err);
      },
    );
  });
}

/** Waits `ms`; resolves early, with true, when the signal aborts. */
function sleep(ms: number, signal: AbortSignal | undefined): Promise<boolean> {
  if (signal?.aborted) return Promise.resolve(true);
  return new Promise((resolve) => {
    const onAbort = () => {
      clearTimeout(timer);
      resolve(true);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve(false);
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
