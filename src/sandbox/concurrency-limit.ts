import {
  ApplicationFailure,
  CancellationScope,
  condition,
  ContinueAsNew,
  defineSignal,
  getExternalWorkflowHandle,
  patched,
  proxyLocalActivities,
  setHandler,
  workflowInfo,
  type Next,
  type WorkflowExecuteInput,
  type WorkflowInboundCallsInterceptor,
  type WorkflowInterceptorsFactory,
} from '@temporalio/workflow';
import type { createConcurrencySemaphoreActivities } from '../worker/concurrency-semaphore-activities';
import {
  CONCURRENCY_PATCH,
  concurrencyKeyOf,
  GRANT_SIGNAL,
  RELEASE_SIGNAL,
  semaphoreWorkflowId,
  validateConcurrencyLimit,
  type PermitHolderId,
} from './concurrency';
import { ErrorType } from './error-types';
import { jobs } from './jobs';

const grantSignal = defineSignal<[{ semaphoreId: string }]>(GRANT_SIGNAL);
const releaseSignal = defineSignal<[PermitHolderId]>(RELEASE_SIGNAL);

/** Signal-with-start of the semaphore: a local activity, so asking costs no task through the server. */
const { acquireConcurrencyPermit } = proxyLocalActivities<ReturnType<typeof createConcurrencySemaphoreActivities>>({
  startToCloseTimeout: '10s',
  retry: { initialInterval: '1s', maximumInterval: '30s' },
});

/**
 * A run waiting this long for its grant asks again (idempotent: it keeps its place). Only matters if its key's
 * semaphore was terminated by hand: asking again starts a new one, so no run waits forever.
 */
export const ASK_AGAIN_AFTER = '5m';

/**
 * Per-key concurrency limits, for every job that declares `concurrency`, whoever started its run (README "Per-key
 * concurrency"). Before the job's workflow runs, the run asks its key's semaphore workflow for a permit and waits for
 * the grant; when the run closes (completed, failed, cancelled) it releases the permit. A run that continues as new
 * keeps it: the next run asks again and is granted at once, as the same chain. Runs recorded before the job declared
 * its limit replay as they ran (`patched`). Innermost, after the argument check: a run refused at the door never waits.
 */
class ConcurrencyLimitInterceptor implements WorkflowInboundCallsInterceptor {
  async execute(input: WorkflowExecuteInput, next: Next<WorkflowInboundCallsInterceptor, 'execute'>): Promise<unknown> {
    const info = workflowInfo();
    const job = jobs.find((j) => j.workflowType === info.workflowType);
    if (!job?.concurrency || !patched(CONCURRENCY_PATCH)) return next(input);
    let key: string;
    try {
      key = concurrencyKeyOf(job, input.args[0])!;
    } catch (err) {
      throw ApplicationFailure.create({
        type: ErrorType.InvalidJobArguments,
        message: (err as Error).message,
        nonRetryable: true,
      });
    }
    const semaphoreId = semaphoreWorkflowId(info.taskQueue, job.name, key);
    const holder: PermitHolderId = { workflowId: info.workflowId, firstRunId: info.firstExecutionRunId };
    let granted = false;
    // Not checked against semaphoreId: a replay worker's task queue (and so the ID derived here) is its own.
    setHandler(grantSignal, () => void (granted = true));
    const request = {
      ...holder,
      runId: info.runId,
      enqueuedAt: info.startTime.getTime(),
      limit: job.concurrency.limit,
      leaseMs: validateConcurrencyLimit(job.name, job.concurrency),
    };
    let closing = true;
    try {
      do {
        await acquireConcurrencyPermit({ semaphoreId, taskQueue: info.taskQueue, job: job.name, key, request });
      } while (!(await condition(() => granted, ASK_AGAIN_AFTER)));
      return await next(input);
    } catch (err) {
      if (err instanceof ContinueAsNew) closing = false; // the chain goes on, and keeps its permit
      throw err;
    } finally {
      if (closing) {
        // Also when cancelled, and when still waiting (it leaves the line). A semaphore that is gone has nothing to free.
        await CancellationScope.nonCancellable(() =>
          getExternalWorkflowHandle(semaphoreId)
            .signal(releaseSignal, holder)
            .catch(() => undefined),
        );
      }
    }
  }
}

export const interceptors: WorkflowInterceptorsFactory = () => ({ inbound: [new ConcurrencyLimitInterceptor()] });
