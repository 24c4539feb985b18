import {
  ChildWorkflowCancellationType,
  condition,
  continueAsNew,
  defineQuery,
  defineSignal,
  ParentClosePolicy,
  setHandler,
  startChild,
  workflowInfo,
} from '@temporalio/workflow';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import {
  DEBOUNCE_SIGNAL,
  DEBOUNCE_STATE_QUERY,
  type DebouncedEnqueue,
  type DebouncedRun,
  type DebounceInput,
  type DebounceState,
} from './debounce';
import { setWorkflowVersioning } from './job-definition';
import { ENQUEUED_BY_MEMO, EXPIRES_AT_MEMO } from './job-events';
import { searchAttributePairs } from './search-attributes';

/** Not a job of its own: the debounce of any job that declares `debounce` (README "Debounce"; src/debounce.ts). */
export const debounceEnqueueSignal = defineSignal<[DebouncedEnqueue]>(DEBOUNCE_SIGNAL);
export const debounceStateQuery = defineQuery<DebounceState>(DEBOUNCE_STATE_QUERY);

/** A run with this many events continues as new (carrying its open window), unless the server suggests it sooner. */
const CONTINUE_AS_NEW_AFTER_EVENTS = 2000;

/**
 * One key's debounce, workflow ID `<job>/debounce/<key>`, started and fed by the client's signal-with-start (one signal
 * per enqueue). The first enqueue opens a window; each one replaces the arguments. When no enqueue came for the
 * period, or the window is `maxWait` old, it starts the job as a child (`<job>/<idempotency key>/debounced/<window
 * start>`, abandoned: it runs on by itself) with the last enqueue's arguments, priority and memo. An enqueue that
 * arrives after that opens the next window, in this run or — once this run has completed — in a new one: the server
 * refuses to complete a run while a signal it has not seen is waiting, so no enqueue is lost. Returns the runs it
 * started.
 */
export async function debounceWorkflow(input: DebounceInput): Promise<DebounceState> {
  let latest: DebouncedEnqueue | undefined = input.carried?.latest;
  let windowOpenedAt = input.carried?.windowOpenedAt ?? 0;
  let enqueues = input.carried?.enqueues ?? 0;
  let lastEnqueueAt = input.carried?.lastEnqueueAt ?? 0;
  const runs: DebouncedRun[] = [];

  setHandler(debounceEnqueueSignal, (enqueue) => {
    const now = Date.now();
    if (latest === undefined) {
      windowOpenedAt = now;
      enqueues = 0;
    }
    latest = enqueue;
    enqueues++;
    lastEnqueueAt = now;
  });
  setHandler(debounceStateQuery, () => ({
    ...(latest === undefined
      ? {}
      : {
          open: {
            enqueues,
            openedAt: new Date(windowOpenedAt).toISOString(),
            closesBy: new Date(windowOpenedAt + input.maxWaitMs).toISOString(),
          },
        }),
    runs,
  }));

  while (latest !== undefined) {
    // The window closes when the key was quiet for the period, or at the latest maxWait after it opened.
    for (;;) {
      const wait = Math.min(lastEnqueueAt + input.periodMs, windowOpenedAt + input.maxWaitMs) - Date.now();
      if (wait <= 0) break;
      const info = workflowInfo();
      if (info.continueAsNewSuggested || info.historyLength > CONTINUE_AS_NEW_AFTER_EVENTS) {
        await continueAsNew<typeof debounceWorkflow>({
          ...input,
          carried: { latest, windowOpenedAt, enqueues, lastEnqueueAt },
        });
      }
      const seen = enqueues;
      await condition(() => enqueues !== seen, wait);
    }
    const run = latest;
    const collapsed = enqueues;
    const workflowId = `${run.workflowIdBase}/debounced/${new Date(windowOpenedAt).toISOString()}`;
    latest = undefined; // from here on, an enqueue opens the next window
    const memo: Record<string, unknown> = {
      ...(run.enqueuedBy === undefined ? {} : { [ENQUEUED_BY_MEMO]: run.enqueuedBy }),
      ...(run.expiresAfterMs === undefined
        ? {}
        : { [EXPIRES_AT_MEMO]: new Date(Date.now() + run.expiresAfterMs).toISOString() }),
    };
    let runId = '';
    try {
      const child = await startChild(run.workflowType, {
        workflowId,
        args: [run.args],
        parentClosePolicy: ParentClosePolicy.ABANDON,
        cancellationType: ChildWorkflowCancellationType.ABANDON,
        ...(run.priority ? { priority: run.priority } : {}),
        ...(Object.keys(memo).length > 0 ? { memo } : {}),
        // JobName, JobKey, TenantId and the summary, as the client computed them (README "Finding runs").
        ...(run.labels
          ? { typedSearchAttributes: searchAttributePairs(run.labels), staticSummary: run.labels.summary }
          : {}),
      });
      runId = child.firstExecutionRunId;
    } catch (err) {
      if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err; // this window's run exists already
    }
    runs.push({ workflowId, runId, enqueues: collapsed, startedAt: new Date().toISOString() });
  }
  return { runs };
}

// Long-lived (it waits out the quiet period and `maxWait`, then starts the job): it moves to the current version rather
// than keep an old one alive (README "Shipping changed job code"); changes to it stay replay-compatible.
setWorkflowVersioning(debounceWorkflow, 'auto-upgrade');
