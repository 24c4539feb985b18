import type { ActivityOptions, LocalActivityOptions } from '@temporalio/common';
import { patched, proxyActivities, proxyLocalActivities } from '@temporalio/workflow';
import type { JobDefinition } from './job-definition';

/**
 * The patch ID under which a job's activity switched from a remote to a local activity. Runs that scheduled it
 * remotely before the switch replay the remote path (their history has no marker); new runs take the local one.
 */
export function localActivityPatchId(activity: string): string {
  return `durable-jobs/local-activity/${activity}`;
}

/**
 * The options of a local activity made from a remote activity's: same timeouts and retry policy; what only a remote
 * activity has (task queue, heartbeats, priority, cancellation type beyond the default) is left out.
 */
export function localActivityOptions(options: ActivityOptions): LocalActivityOptions {
  const { startToCloseTimeout, scheduleToCloseTimeout, retry, summary } = options;
  return { startToCloseTimeout, scheduleToCloseTimeout, retry, summary };
}

/**
 * The workflow side of a job's activities: `proxyActivities`, except that the activities the job declares in
 * `localActivities` run as local activities (in the worker running the workflow task, no round trip through the
 * server per attempt). Call it in a workflow file, with the job's declaration and the activities' options.
 */
export function proxyJobActivities<A extends object>(
  job: Pick<JobDefinition<any>, 'localActivities'>,
  options: ActivityOptions,
): A {
  const remote = proxyActivities<Record<string, (...args: unknown[]) => Promise<unknown>>>(options);
  const local = proxyLocalActivities<Record<string, (...args: unknown[]) => Promise<unknown>>>(
    localActivityOptions(options),
  );
  const locals = new Set<string>(job.localActivities ?? []);
  return new Proxy({} as A, {
    get(_, name) {
      if (typeof name !== 'string') return undefined;
      // Decided per call, in workflow context: `patched` may only be called there.
      return (...args: unknown[]) =>
        locals.has(name) && patched(localActivityPatchId(name)) ? local[name]!(...args) : remote[name]!(...args);
    },
  });
}
