import type { ActivityOptions, LocalActivityOptions } from '@temporalio/common';
import { patched, proxyActivities, proxyLocalActivities, workflowInfo } from '@temporalio/workflow';
import type { JobDefinition } from './job-definition';
import { rateLimitQueueName, taskQueuePrefixOf } from './queues';

/**
 * The patch ID under which a job's activity switched from a remote to a local activity. Runs that scheduled it
 * remotely before the switch replay the remote path (their history has no marker); new runs take the local one.
 */
export function localActivityPatchId(activity: string): string {
  return `durable-jobs/local-activity/${activity}`;
}

/**
 * The patch ID under which a job's activity moved to its rate-limited task queue (README "Rate limits"). Runs that
 * scheduled it on the job's own queue before the move replay that path (their history has no marker).
 */
export function rateLimitPatchId(activity: string): string {
  return `durable-jobs/rate-limit/${activity}`;
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
 * server per attempt), and those it declares in `rateLimits` are scheduled on their rate-limited task queue,
 * `<prefix>-rate-<activity>` (the prefix is the one of the queue the workflow runs on). Call it in a workflow file,
 * with the job's declaration and the activities' options; a rate-limited activity's options must not set a
 * schedule-to-start or schedule-to-close timeout, or a call waiting for its turn would time out.
 */
export function proxyJobActivities<A extends object>(
  job: Pick<JobDefinition<any>, 'localActivities' | 'rateLimits'>,
  options: ActivityOptions,
): A {
  const remote = proxyActivities<Record<string, (...args: unknown[]) => Promise<unknown>>>(options);
  const local = proxyLocalActivities<Record<string, (...args: unknown[]) => Promise<unknown>>>(
    localActivityOptions(options),
  );
  const locals = new Set<string>(job.localActivities ?? []);
  const limited = new Set<string>(Object.keys(job.rateLimits ?? {}));
  return new Proxy({} as A, {
    get(_, name) {
      if (typeof name !== 'string') return undefined;
      // Decided per call, in workflow context: `patched` and `workflowInfo` may only be called there.
      return (...args: unknown[]) => {
        if (locals.has(name) && patched(localActivityPatchId(name))) return local[name]!(...args);
        if (limited.has(name) && patched(rateLimitPatchId(name))) {
          const taskQueue = rateLimitQueueName(taskQueuePrefixOf(workflowInfo().taskQueue), name);
          const rateLimited = proxyActivities<Record<string, (...args: unknown[]) => Promise<unknown>>>({
            ...options,
            taskQueue,
          });
          return rateLimited[name]!(...args);
        }
        return remote[name]!(...args);
      };
    },
  });
}
