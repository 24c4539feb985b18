import {
  condition,
  continueAsNew,
  defineQuery,
  defineSignal,
  getExternalWorkflowHandle,
  proxyLocalActivities,
  setHandler,
  sleep,
  workflowInfo,
} from '@temporalio/workflow';
import type { createConcurrencySemaphoreActivities } from '../worker/concurrency-semaphore-activities';
import { setWorkflowVersioning } from './job-definition';
import {
  ACQUIRE_SIGNAL,
  GRANT_SIGNAL,
  RELEASE_SIGNAL,
  SEMAPHORE_STATE_QUERY,
  waiterPosition,
  type AcquireRequest,
  type PermitHolder,
  type PermitHolderId,
  type SemaphoreState,
} from './concurrency';

export const acquireSignal = defineSignal<[AcquireRequest]>(ACQUIRE_SIGNAL);
export const releaseSignal = defineSignal<[PermitHolderId]>(RELEASE_SIGNAL);
/** Sent to a waiting run: it holds a permit of `semaphoreId` now. */
export const grantSignal = defineSignal<[{ semaphoreId: string }]>(GRANT_SIGNAL);
export const semaphoreStateQuery = defineQuery<SemaphoreState>(SEMAPHORE_STATE_QUERY);

/** Continue-as-new past this many events (or when the server suggests it): a replay after a crash stays cheap. */
export const SEMAPHORE_EVENTS_BEFORE_CONTINUE = 2000;

/** The lease check: a local activity that describes the holders (one batch per lease period, not one per job). */
const { findClosedPermitHolders } = proxyLocalActivities<ReturnType<typeof createConcurrencySemaphoreActivities>>({
  startToCloseTimeout: '30s',
  retry: { initialInterval: '1s', maximumInterval: '10s' },
});

const sameRun = (a: PermitHolderId, b: PermitHolderId) =>
  a.workflowId === b.workflowId && a.firstRunId === b.firstRunId;

/**
 * The semaphore of one job's key (README "Per-key concurrency"). It holds `limit` permits; runs of the job ask for one
 * with the acquire signal (sent by signal-with-start, which starts this workflow if the key has none open), wait, in
 * enqueue order, for the grant signal, and give it back with the release signal when they close. Every lease period it
 * describes its holders and takes back the permit of any that closed without releasing it (terminated, timed out).
 * Closes after a lease period with neither holders nor waiters; continues-as-new to bound its history, carrying both.
 */
export async function concurrencySemaphoreWorkflow(state: SemaphoreState): Promise<void> {
  /** Holders whose grant signal is still to be sent: new ones, and runs that asked again (a continued run). */
  const toGrant: PermitHolder[] = [];
  let changed = false;

  setHandler(acquireSignal, (request) => {
    changed = true;
    state.limit = request.limit;
    state.leaseMs = request.leaseMs;
    // A later run of the same workflow ID is a new chain: the old one closed, so its permit or place is void.
    state.holders = state.holders.filter((h) => h.workflowId !== request.workflowId || sameRun(h, request));
    state.waiters = state.waiters.filter((w) => w.workflowId !== request.workflowId || sameRun(w, request));
    const holder = state.holders.find((h) => sameRun(h, request));
    if (holder) {
      holder.runId = request.runId; // the chain continued as new: the grant goes to its current run
      if (!toGrant.includes(holder)) toGrant.push(holder);
      return;
    }
    const waiter = state.waiters.find((w) => sameRun(w, request));
    if (waiter) {
      waiter.runId = request.runId; // asked again while waiting: keeps its place
      return;
    }
    const { workflowId, firstRunId, runId, enqueuedAt } = request;
    const entry = { workflowId, firstRunId, runId, enqueuedAt, arrival: state.arrivals++ };
    state.waiters.splice(waiterPosition(state.waiters, entry), 0, entry);
  });
  setHandler(releaseSignal, (released) => {
    changed = true;
    state.holders = state.holders.filter((h) => !sameRun(h, released));
    state.waiters = state.waiters.filter((w) => !sameRun(w, released));
  });
  setHandler(semaphoreStateQuery, () => state);

  const semaphoreId = workflowInfo().workflowId;
  // One timer per lease period, whatever the traffic: it drives the lease check and the idle close.
  let leaseTick = false;
  let activeSinceTick = true;
  void (async () => {
    for (;;) {
      await sleep(state.leaseMs);
      leaseTick = true;
    }
  })();
  for (;;) {
    while (state.holders.length < state.limit && state.waiters.length > 0) {
      const { arrival: _arrival, ...waiter } = state.waiters.shift()!;
      const holder: PermitHolder = { ...waiter, grantedAt: Date.now() };
      state.holders.push(holder);
      state.granted++;
      toGrant.push(holder);
    }
    if (toGrant.length > 0) {
      const batch = toGrant.splice(0).map((h) => ({ holder: h, runId: h.runId }));
      const sent = await Promise.allSettled(
        batch.map(({ holder, runId }) =>
          getExternalWorkflowHandle(holder.workflowId, runId).signal(grantSignal, { semaphoreId }),
        ),
      );
      // A run that closed before its grant arrived cannot use it: the permit goes to the next in line.
      sent.forEach((outcome, i) => {
        const { holder, runId } = batch[i]!;
        if (outcome.status === 'rejected' && holder.runId === runId) {
          state.holders = state.holders.filter((h) => h !== holder);
        }
      });
      continue;
    }
    if (leaseTick) {
      leaseTick = false;
      if (state.holders.length > 0) {
        const closed = await findClosedPermitHolders(
          state.holders.map(({ workflowId, firstRunId }) => ({ workflowId, firstRunId })),
        );
        const before = state.holders.length;
        state.holders = state.holders.filter((h) => !closed.some((c) => sameRun(c, h)));
        state.reclaimed += before - state.holders.length;
      } else if (state.waiters.length === 0 && !activeSinceTick && !changed) {
        return; // a lease period with nothing to do: a later request starts a new run (signal-with-start)
      }
      activeSinceTick = false;
      continue;
    }
    const info = workflowInfo();
    if (info.continueAsNewSuggested || info.historyLength > SEMAPHORE_EVENTS_BEFORE_CONTINUE) {
      await continueAsNew<typeof concurrencySemaphoreWorkflow>(state);
    }
    await condition(() => changed || leaseTick || toGrant.length > 0);
    if (changed) activeSinceTick = true;
    changed = false;
  }
}

// Lives as long as its key is busy (continuing as new): it moves to the current version rather than keep an old one
// alive (README "Shipping changed job code"); changes to it stay replay-compatible.
setWorkflowVersioning(concurrencySemaphoreWorkflow, 'auto-upgrade');
