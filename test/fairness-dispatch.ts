/**
 * Dispatch order as the server recorded it, for the fairness tests: when the matching service hands a run's first
 * workflow task to a poller, the history service records WorkflowTaskStarted (event 3) right then. Sorting runs by that
 * event's time is the order the matcher dispatched their tasks from the backlog, whatever order the worker then ran or
 * completed them in.
 */
import type { temporal } from '@temporalio/proto';
import { forEachLimited } from '../bench/harness';
import type { Harness } from './harness';

/** A run whose first workflow task the matcher dispatched, and when (ms since the epoch, to the microsecond). */
export interface Dispatch {
  workflowId: string;
  at: number;
}

type Timestamp = temporal.api.history.v1.IHistoryEvent['eventTime'];

function millis(t: Timestamp): number {
  return Number(t?.seconds ?? 0) * 1000 + (t?.nanos ?? 0) / 1e6;
}

/** The runs of `workflowIds` whose first workflow task was dispatched, in dispatch order; runs not yet dispatched are left out. */
export async function dispatchOrder(h: Harness, workflowIds: string[]): Promise<Dispatch[]> {
  const dispatches: Dispatch[] = [];
  await forEachLimited(workflowIds.length, 16, async (i) => {
    const workflowId = workflowIds[i]!;
    const { events } = await h.env.client.workflow.getHandle(workflowId).fetchHistory();
    const started = events?.find((e) => e.workflowTaskStartedEventAttributes);
    if (started) dispatches.push({ workflowId, at: millis(started.eventTime) });
  });
  return dispatches.sort((x, y) => x.at - y.at);
}
