import path from 'node:path';
import { defineApplication } from 'durable-jobs';
import type { HealthCheckDeps } from '../../src/worker/health-check-activities';
import app, { type ActivityDeps } from '../../app';
import { createConcurrencyProbeActivities, type ConcurrencyProbeDeps } from './concurrency-probe-activities';
import { createNoopActivities, type NoopDeps } from './noop-activities';
import '.'; // declares the test application's jobs

/** What the test application's activities may be handed: the example application's services and the probes' hooks. */
export type TestActivityDeps = ActivityDeps & NoopDeps & ConcurrencyProbeDeps & Omit<HealthCheckDeps, 'db'>;

/**
 * The example application with the test and benchmark jobs added (`test/jobs/index.ts`): what the suite's workers and
 * the benchmarks run.
 */
export const testApp = defineApplication<TestActivityDeps>({
  ...app,
  workflowsPath: path.join(__dirname, 'index'),
  activities: (context) => ({
    ...app.activities(context),
    ...createNoopActivities(context),
    ...createConcurrencyProbeActivities(context),
  }),
});

/** The tests' workflows module: what the suite's workers bundle. */
export const TEST_WORKFLOWS = testApp.workflowsPath;
export default testApp;
