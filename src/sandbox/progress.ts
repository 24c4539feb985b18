/**
 * Progress of long jobs. A workflow that reports progress answers the `progress` query with this shape; `jobctl
 * status`, `jobctl watch`, `enqueue --wait` and the HTTP service read it through `JobClient.progress`.
 */
export const PROGRESS_QUERY = 'progress';

export interface JobProgress {
  /** What the job is doing now, e.g. `preparing`, `running`, `finalizing`, `done`. */
  phase: string;
  /** Units of work in all (slices, records), once known. */
  total: number;
  done: number;
  failed: number;
  /** (done + failed) / total × 100, rounded to one decimal; 0 while the total is unknown. */
  percent: number;
  /** Units finished per second since the job started. */
  ratePerSecond: number;
  /** Seconds left at the current rate; undefined until there is a rate. */
  etaSeconds?: number;
  /** What a unit is, for display: `slices`, `records`. */
  unit: string;
}

/** Builds the progress figures from counts and the elapsed time (in workflow time, which is replay-safe). */
export function computeProgress(
  phase: string,
  unit: string,
  total: number,
  done: number,
  failed: number,
  elapsedMs: number,
): JobProgress {
  const finished = done + failed;
  const ratePerSecond = elapsedMs > 0 ? Math.round((finished / (elapsedMs / 1000)) * 100) / 100 : 0;
  return {
    phase,
    unit,
    total,
    done,
    failed,
    percent: total > 0 ? Math.round((finished / total) * 1000) / 10 : 0,
    ratePerSecond,
    etaSeconds: ratePerSecond > 0 && total >= finished ? Math.round((total - finished) / ratePerSecond) : undefined,
  };
}
