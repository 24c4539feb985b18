import type { DeclaredJob } from './sandbox/job-definition';
import { formatRate, rateLimitsInForce } from './worker/rate-limits';

/**
 * A job's flow controls as short phrases, for `jobctl jobs` (its CONTROLS column and `controls` in JSON): one entry
 * per control the declaration sets, e.g. `rate processWebhook 10/s`. Each kind of control (README "Flow control")
 * adds its own entries here. `rateOverrides` are `settings.rateLimits`; an overridden rate shows the declared one too.
 */
export function jobControls(job: DeclaredJob<any>, rateOverrides: Readonly<Record<string, number>> = {}): string[] {
  const controls: string[] = [];
  if (job.concurrency) controls.push(`concurrency ${job.concurrency.limit} per key`);
  if (job.fairness) {
    const weight = job.fairness.weight;
    controls.push(
      `fair by key${weight === undefined ? '' : typeof weight === 'number' ? ` (weight ${weight})` : ' (weight by args)'}`,
    );
  }
  if (job.debounce) {
    const { period, maxWait } = job.debounce;
    controls.push(`debounce ${duration(period)}${maxWait === undefined ? '' : ` (max wait ${duration(maxWait)})`}`);
  }
  const inForce = rateLimitsInForce([job], pick(rateOverrides, Object.keys(job.rateLimits ?? {})));
  for (const limit of inForce.values()) {
    controls.push(
      `rate ${limit.activity} ${formatRate(limit.perSecond)}` +
        (limit.perSecond === limit.declaredPerSecond ? '' : ` (declared ${formatRate(limit.declaredPerSecond)})`),
    );
  }
  return controls;
}

function duration(value: string | number): string {
  return typeof value === 'number' ? `${value}ms` : value;
}

function pick(record: Readonly<Record<string, number>>, keys: string[]): Record<string, number> {
  return Object.fromEntries(Object.entries(record).filter(([key]) => keys.includes(key)));
}
