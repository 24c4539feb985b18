import { WorkflowNotFoundError } from '@temporalio/client';
import type { JobClient, JobRunStatus } from '../client/client';
import { JobNotFoundError } from '../sandbox/errors';
import type { JobProgress } from '../sandbox/progress';

/** The latest run of a workflow ID, as far as watching needs it. */
export interface RunState {
  /** True while the run is open (a continued-as-new run is followed into its successor). */
  open: boolean;
  startTime: Date;
}

/** What `watchJob` reads about a job. `jobClientSource` is the real one; tests can script one. */
export interface WatchSource {
  /** State of the latest run; throws `JobNotFoundError` for an unknown workflow ID. */
  state(workflowId: string): Promise<RunState>;
  /** The workflow's answer to the progress query; undefined when it has no progress handler. */
  progress(workflowId: string): Promise<JobProgress | undefined>;
  /** The full status, read once the run has closed. */
  status(workflowId: string): Promise<JobRunStatus>;
}

/** How long one progress query may take before this poll goes without it (a busy or absent worker answers late). */
const PROGRESS_QUERY_TIMEOUT_MS = 5_000;

/** Reads through a JobClient; `signal` cancels the RPCs in flight (Ctrl-C does not wait for a slow query). */
export function jobClientSource(client: JobClient, signal?: AbortSignal): WatchSource {
  const cancellable = async <T>(fn: () => Promise<T>): Promise<T> => {
    if (!signal) return fn();
    // A signal per call: the SDK adds an abort listener per RPC and never removes it, so the long-lived one would leak.
    const call = new AbortController();
    const onAbort = () => call.abort();
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      return await client.temporal.withAbortSignal(call.signal, fn);
    } finally {
      signal.removeEventListener('abort', onAbort);
    }
  };
  return {
    state: (workflowId) =>
      cancellable(async () => {
        try {
          const d = await client.temporal.workflow.getHandle(workflowId).describe();
          return { open: d.status.name === 'RUNNING' || d.status.name === 'CONTINUED_AS_NEW', startTime: d.startTime };
        } catch (err) {
          if (err instanceof WorkflowNotFoundError) throw new JobNotFoundError(workflowId);
          throw err;
        }
      }),
    progress: (workflowId) =>
      cancellable(() =>
        client.temporal.withDeadline(Date.now() + PROGRESS_QUERY_TIMEOUT_MS, () => client.progress(workflowId)),
      ),
    status: (workflowId) => cancellable(() => client.status(workflowId)),
  };
}
