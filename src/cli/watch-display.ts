import { Format, SingleBar, type Options as BarOptions } from 'cli-progress';
import { formatDuration } from '../format';
import type { JobProgress } from '../sandbox/progress';
import { formatProgress } from './status-text';

/**
 * What `jobctl watch` shows on stderr while the run is open: a redrawn bar or spinner line on a terminal, plain lines
 * in logs (CI), nothing with --json.
 */

/** A stream as watch writes to it; stderr's `isTTY` and `columns` choose between redrawing and plain lines. */
export interface OutputStream {
  write(chunk: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

/** The workflow has no progress handler. */
export const NO_PROGRESS = 'no progress';
/** The query failed or timed out (no worker polling, or a busy one): whatever is shown stays. */
export const UNANSWERED = 'unanswered';
/** What one progress query came back with. */
export type Answer = JobProgress | typeof NO_PROGRESS | typeof UNANSWERED;

/** Writing the run's progress to stderr while it is open. */
export interface Display {
  /** The run is open; called on every poll before its progress is queried. */
  open(startTime: Date): void;
  /** What the progress query answered. */
  answer(startTime: Date, answer: Answer): void;
  /** Stops redrawing (the bar's last state stays on screen, a spinner line is cleared); idempotent. */
  stop(): void;
}

/** The line shown while there is no progress to show. */
function runningText(workflowId: string, startTime: Date, answer: Answer | undefined): string {
  const why =
    answer === NO_PROGRESS ? ' (no progress reported)' : answer === UNANSWERED ? ' (no worker has answered yet)' : '';
  // Whole seconds, as a clock counts; never negative, whatever the skew between this clock and the server's.
  const elapsedMs = Math.max(0, Math.floor((Date.now() - startTime.getTime()) / 1000) * 1000);
  return `${workflowId}  Running, ${formatDuration(elapsedMs)} elapsed${why}`;
}

const SPINNER_FRAMES = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

/** A cli-progress bar while the workflow reports progress, a spinner with the elapsed time while it does not. */
export class TerminalDisplay implements Display {
  private bar: SingleBar | undefined;
  private spinner:
    { bar: SingleBar; timer: NodeJS.Timeout; startTime: Date; answer: Answer | undefined; frame: number } | undefined;

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
    const payload = {
      text: `${this.workflowId}  ${formatProgress(progress)}`,
      ratio: progress.total > 0 ? progress.percent / 100 : 0,
    };
    if (this.bar) return this.bar.update(0, payload);
    this.bar = new SingleBar({
      ...this.barOptions(),
      barsize: 24,
      barCompleteChar: '█',
      barIncompleteChar: '░',
      format: (options, _params, p: typeof payload) =>
        `${Format.BarFormat(Math.min(1, Math.max(0, p.ratio)), options)} ${p.text}`,
    });
    this.bar.start(1, 0, payload);
  }

  private startSpinner(startTime: Date, answer: Answer | undefined): void {
    const bar = new SingleBar({
      ...this.barOptions(),
      clearOnComplete: true,
      format: (_o, _p, p: { text: string }) => p.text,
    });
    const text = () =>
      `${SPINNER_FRAMES[spinner.frame % SPINNER_FRAMES.length]} ` +
      runningText(this.workflowId, spinner.startTime, spinner.answer);
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
    return {
      stream: this.stream as NodeJS.WritableStream,
      hideCursor: true,
      linewrap: false,
      fps: 10,
      gracefulExit: false,
    };
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
export class PlainDisplay implements Display {
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
    // Keep the last progress.
    if (answer === UNANSWERED && this.lastKey !== undefined && this.lastKey !== NO_PROGRESS) return;
    const now = Date.now();
    const key = typeof answer === 'object' ? formatProgress(answer) : answer;
    const since = now - this.lastAt;
    const tooSoon = since < this.minIntervalMs || (key === this.lastKey && since < this.repeatIntervalMs);
    if (this.lastKey !== undefined && tooSoon) return;
    const line =
      typeof answer === 'object' ? `${this.workflowId}  ${key}` : runningText(this.workflowId, startTime, answer);
    this.stream.write(`${line}\n`);
    this.lastKey = key;
    this.lastAt = now;
  }

  stop(): void {}
}

/** Shows nothing (--json: stdout carries only the final status, stderr stays empty). */
export const SILENT_DISPLAY: Display = { open() {}, answer() {}, stop() {} };
