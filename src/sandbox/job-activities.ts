import type { ActivityOptions, LocalActivityOptions } from '@temporalio/common';
import { patched, proxyActivities, proxyLocalActivities, workflowInfo } from '@temporalio/workflow';
import type { DeclaredJob } from './job-definition';
import { compileRetryPolicy } from './retry-rules';
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
 * The workflow side of a job's activities, from its declaration (`JobDefinition.activities`): each activity is
 * proxied with the options declared for it (its retry table compiled into the retry policy), as a local activity when
 * declared `local` (in the worker running the workflow task, no round trip through the server per attempt), and on its
 * rate-limited task queue, `<prefix>-rate-<activity>`, when it declares a `rateLimit` (the prefix is the one of the
 * queue the workflow runs on). Call it once in the job's workflow file: `proxyJobActivities<Activities>(job)`. Calling
 * an activity the job does not declare throws a TypeError naming it.
 */
export function proxyJobActivities<A extends object>(
  job: Pick<DeclaredJob<any>, 'name' | 'activities' | 'localActivities' | 'rateLimits'>,
): A {
  type Call = (...args: unknown[]) => Promise<unknown>;
  const calls = new Map<string, Call>();
  const optionsOf = (name: string): ActivityOptions => {
    const declared = job.activities?.[name];
    if (!declared) {
      throw new TypeError(
        `job "${job.name}" declares no activity "${name}": add it to the job's activities ({ ${name}: { options } })`,
      );
    }
    return declared.retry ? { ...declared.options, retry: compileRetryPolicy(declared.retry) } : declared.options;
  };
  const callOf = (name: string): Call => {
    const options = optionsOf(name);
    const remote = proxyActivities<Record<string, Call>>(options)[name]!;
    const local = job.localActivities.includes(name)
      ? proxyLocalActivities<Record<string, Call>>(localActivityOptions(options))[name]!
      : undefined;
    const limited = name in job.rateLimits;
    // Decided per call, in workflow context: `patched` and `workflowInfo` may only be called there.
    return (...args: unknown[]) => {
      if (local && patched(localActivityPatchId(name))) return local(...args);
      if (limited && patched(rateLimitPatchId(name))) {
        const taskQueue = rateLimitQueueName(taskQueuePrefixOf(workflowInfo().taskQueue), name);
        return proxyActivities<Record<string, Call>>({ ...options, taskQueue })[name]!(...args);
      }
      return remote(...args);
    };
  };
  return new Proxy({} as A, {
    get(_, name) {
      if (typeof name !== 'string' || name === 'then') return undefined;
      let call = calls.get(name);
      if (!call) calls.set(name, (call = callOf(name)));
      return call;
    },
  });
}
