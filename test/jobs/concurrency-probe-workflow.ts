import { z } from 'zod';
import type { createConcurrencyProbeActivities } from './concurrency-probe-activities';
import { proxyJobActivities } from '../../src/sandbox/job-activities';
import { defineJob } from '../../src/sandbox/job-definition';

const args = z.strictObject({
  id: z.string().min(1).max(200),
  /** The concurrency key. */
  key: z.string().min(1).max(100),
  /** How long the activity holds the permit, in ms. */
  holdMs: z.number().int().min(0).max(60_000),
});

/**
 * Jobs limited per key, for the concurrency tests and `npm run bench -- concurrency`: one activity that holds its
 * permit for `holdMs`. Two of them, limit 1 and limit 3, with a 2 s lease so a lost permit comes back quickly.
 */
/** The probe's activity: it heartbeats while it holds the permit. */
const PROBE_OPTIONS = {
  startToCloseTimeout: '2m',
  heartbeatTimeout: '2s',
  retry: { initialInterval: '200ms', maximumAttempts: 5 },
} as const;

export const concurrencyProbe = defineJob({
  name: 'concurrency-probe',
  description: 'Hold a per-key permit (limit 1) for a while; for tests and benchmarks.',
  workflow: concurrencyProbeWorkflow,
  queue: 'default',
  enqueueOverHttp: false, // internal: tests and benchmarks
  args,
  idempotencyKey: ({ id }) => id,
  concurrency: { key: ({ key }) => key, limit: 1, lease: '2s' },
  activities: { concurrencyProbe: { options: PROBE_OPTIONS } },
});

export const concurrencyProbeThree = defineJob({
  name: 'concurrency-probe-three',
  description: 'Hold a per-key permit (limit 3) for a while; for tests and benchmarks.',
  workflow: concurrencyProbeThreeWorkflow,
  queue: 'default',
  enqueueOverHttp: false, // internal: tests and benchmarks
  args,
  idempotencyKey: ({ id }) => id,
  concurrency: { key: ({ key }) => key, limit: 3, lease: '2s' },
  activities: { concurrencyProbe: { options: PROBE_OPTIONS } },
});

const { concurrencyProbe: hold }: ReturnType<typeof createConcurrencyProbeActivities> =
  proxyJobActivities(concurrencyProbe);

/** One activity holding the permit: the concurrency interceptor acquires it before and releases it after. */
export async function concurrencyProbeWorkflow({ id, holdMs }: z.infer<typeof args>): Promise<void> {
  await hold(id, holdMs);
}

export async function concurrencyProbeThreeWorkflow({ id, holdMs }: z.infer<typeof args>): Promise<void> {
  await hold(id, holdMs);
}
