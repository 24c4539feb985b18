import type { JobClient, JobRunStatus } from '../client/client';
import { failureLine, formatStatus } from './status-text';
import {
  NO_PROGRESS,
  PlainDisplay,
  SILENT_DISPLAY,
  TerminalDisplay,
  UNANSWERED,
  type Answer,
  type Display,
  type OutputStream,
} from './watch-display';
import { jobClientSource, type WatchSource } from './watch-source';

/**
 * `jobctl watch` and `jobctl enqueue --wait`: follow a job until its run closes. While the run is open, stderr shows a
 * progress bar (when the workflow answers the `progress` query) or a spinner with the elapsed time; when stderr is not
 * a terminal, a plain line at most every ~2 s instead. When it closes, stdout gets the same status block as
 * `jobctl status`, and the exit code says how it ended.
 */

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
export async function watchJob(
  client: JobClient | WatchSource,
  workflowId: string,
  options: WatchOptions = {},
): Promise<number> {
  const source = 'temporal' in client ? jobClientSource(client, options.signal) : client;
  const intervalMs = options.intervalMs ?? 1000;
  const stdout = options.stdout ?? process.stdout;
  const stderr = options.stderr ?? process.stderr;
  const display: Display = options.json
    ? SILENT_DISPLAY
    : stderr.isTTY
      ? new TerminalDisplay(workflowId, stderr)
      : new PlainDisplay(workflowId, stderr, options.plainLineIntervalMs ?? 2000);
  const interrupted = () => {
    display.stop();
    stderr.write(
      `jobctl: stopped watching ${workflowId}; the job itself keeps running (jobctl status ${workflowId})\n`,
    );
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
  if (status.status === 'Running' || status.status === 'Scheduled' || status.status === 'ContinuedAsNew') {
    return { startTime: new Date(status.startTime) };
  }
  return { closed: status };
}

/** `watchJob` with Ctrl-C wired to stop watching; what `jobctl watch` and `jobctl enqueue --wait` run. */
export async function watchFromCli(
  client: JobClient,
  workflowId: string,
  options: Omit<WatchOptions, 'signal'>,
): Promise<number> {
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
