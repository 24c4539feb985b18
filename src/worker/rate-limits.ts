import type { DeclaredJob } from '../sandbox/job-definition';
import type { Priority } from '../sandbox/queues';

/** One rate-limited activity as the workers enforce it: the declared rate, or the deployment's override. */
export interface ActivityRateLimit {
  activity: string;
  /** The rate in force: `JOBS_RATE_LIMITS`'s when it names the activity, else the declared one. */
  perSecond: number;
  /** What the job declarations say. */
  declaredPerSecond: number;
  /** Jobs that declare the limit; their queues' workers serve the activity's rate-limited queue. */
  jobs: string[];
  queues: Priority[];
}

/**
 * The rate limits in force, by activity: every job's `rateLimits`, with `overrides` (`settings.rateLimits`) applied.
 * Throws a TypeError when two jobs declare different rates for one activity (one resource, one limit) or an override
 * names an activity no job limits (its calls do not go through a rate-limited queue, so there is nothing to set).
 */
export function rateLimitsInForce(
  jobs: readonly DeclaredJob<any>[],
  overrides: Readonly<Record<string, number>> = {},
): Map<string, ActivityRateLimit> {
  const limits = new Map<string, ActivityRateLimit>();
  for (const job of jobs) {
    for (const [activity, limit] of Object.entries(job.rateLimits ?? {})) {
      if (!limit) continue;
      const known = limits.get(activity);
      if (known && known.declaredPerSecond !== limit.perSecond) {
        throw new TypeError(
          `rate limit of activity "${activity}": job "${job.name}" declares ${limit.perSecond}/s, job ` +
            `"${known.jobs[0]}" ${known.declaredPerSecond}/s; one activity has one limit`,
        );
      }
      const entry = known ?? {
        activity,
        perSecond: limit.perSecond,
        declaredPerSecond: limit.perSecond,
        jobs: [],
        queues: [],
      };
      entry.jobs.push(job.name);
      if (!entry.queues.includes(job.queue)) entry.queues.push(job.queue);
      limits.set(activity, entry);
    }
  }
  for (const [activity, perSecond] of Object.entries(overrides)) {
    const entry = limits.get(activity);
    if (!entry) {
      throw new TypeError(
        `JOBS_RATE_LIMITS names "${activity}", which no job rate-limits (limited: ${[...limits.keys()].join(', ') || 'none'})`,
      );
    }
    entry.perSecond = perSecond;
  }
  return limits;
}

/** `12/s`, `0.5/s`. */
export function formatRate(perSecond: number): string {
  return `${Number(perSecond.toFixed(3))}/s`;
}

/**
 * The most calls we let Temporal's task queue rate limit start in any one-second window at `perSecond`, on a queue of
 * `partitions` partitions (`matching.numTaskqueueReadPartitions`, 4 unless configured): `3 × perSecond + partitions`
 * (19 at 5/s). An envelope from the server's code and measurements, not a setting: each partition enforces
 * `perSecond / partitions` with a limiter whose burst is one second (server 1.29, `rateLimitManager`), which alone
 * allows `partitions × (⌊2 × perSecond / partitions⌋ + 1)` in a window (12 at 5/s; 11 measured); with the fairness
 * matcher on (`matching.enableFairness`, as our servers run) the first second after an idle queue measured 13 and 15
 * (why is not established; the matcher refunds the token of a match it does not complete, `recycleToken`, which can
 * go past the one-second burst). Saturated, a window holds the rate. README "Rate limits".
 */
export function rateLimitWindowBound(perSecond: number, partitions = 4): number {
  return Math.ceil(3 * perSecond) + partitions;
}
