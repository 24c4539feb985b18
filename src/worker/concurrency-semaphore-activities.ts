import { Context } from '@temporalio/activity';
import { WorkflowNotFoundError } from '@temporalio/client';
import {
  ACQUIRE_SIGNAL,
  SEMAPHORE_WORKFLOW_TYPE,
  type AcquireInput,
  type PermitHolderId,
  type SemaphoreState,
} from '../sandbox/concurrency';

/** Nothing to inject: both talk to Temporal with the worker's own client (its connection, namespace and codec). */
export type ConcurrencySemaphoreDeps = object;

/**
 * The two calls per-key concurrency makes that workflow code cannot: signal-with-start of a key's semaphore, and
 * describing the runs that hold its permits. Both run as local activities (no task through the server).
 */
export function createConcurrencySemaphoreActivities(_deps: ConcurrencySemaphoreDeps) {
  return {
    /**
     * Asks the key's semaphore for a permit: signals it, starting it first if the key has none open (signal-with-start
     * is atomic, so a semaphore closing as idle never loses the request). Idempotent: asking again keeps the place.
     */
    async acquireConcurrencyPermit({ semaphoreId, taskQueue, job, key, request }: AcquireInput): Promise<void> {
      const initial: SemaphoreState = {
        job,
        key,
        limit: request.limit,
        leaseMs: request.leaseMs,
        holders: [],
        waiters: [],
        arrivals: 0,
        granted: 0,
        reclaimed: 0,
      };
      await Context.current().client.workflow.signalWithStart(SEMAPHORE_WORKFLOW_TYPE, {
        workflowId: semaphoreId,
        taskQueue,
        args: [initial],
        signal: ACQUIRE_SIGNAL,
        signalArgs: [request],
        // Its workflow tasks go ahead of the jobs' own in the queue: a grant is what the waiting jobs wait for.
        priority: { priorityKey: 1 },
      });
    },

    /**
     * Which of these permit holders closed without releasing: the workflow ID is gone, its latest run is closed, or
     * its latest run is another chain (the holder's ended and the ID was run again).
     */
    async findClosedPermitHolders(holders: PermitHolderId[]): Promise<PermitHolderId[]> {
      const { client } = Context.current();
      const closed: PermitHolderId[] = [];
      for (const holder of holders) {
        try {
          const { status, raw } = await client.workflow.getHandle(holder.workflowId).describe();
          const firstRunId = raw.workflowExecutionInfo?.firstRunId;
          if (status.name !== 'RUNNING' || (firstRunId && firstRunId !== holder.firstRunId)) closed.push(holder);
        } catch (err) {
          if (err instanceof WorkflowNotFoundError) closed.push(holder);
          else throw err;
        }
      }
      return closed;
    },
  };
}
