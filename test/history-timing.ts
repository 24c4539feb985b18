import type { WorkflowHandle } from '@temporalio/client';
import { tsToMs } from '@temporalio/common/lib/time';
import type { temporal } from '@temporalio/proto';

/**
 * Timings as the server recorded them in workflow histories (event times, ms since the epoch on the server's clock):
 * what the flow-control tests (rate limits, per-key concurrency, debounce) measure, rather than this process's clock.
 */

type HistoryEvent = temporal.api.history.v1.IHistoryEvent;

/** When an event was recorded. */
export const eventMs = (event: HistoryEvent): number => tsToMs(event.eventTime);

/** One activity of a run, from its history. */
export interface ActivitySpan {
  workflowId: string;
  activityType: string;
  scheduled: number;
  /**
   * When its last attempt started. Temporal records one ActivityTaskStarted per activity, the attempt that closed it
   * (written at the close, with the start's time).
   */
  started: number;
  /** When it completed, failed, timed out or was cancelled. */
  closed: number;
  /** Attempt of that last start. */
  attempt: number;
  /** Identity of the worker that ran the last attempt. */
  identity: string;
  taskQueue: string;
}

const CLOSE_ATTRIBUTES = [
  'activityTaskCompletedEventAttributes',
  'activityTaskFailedEventAttributes',
  'activityTaskTimedOutEventAttributes',
  'activityTaskCanceledEventAttributes',
] as const;

/** The closed activities of a run (of `activityType` only, when given), in the order they were scheduled. */
export async function activitySpans(handle: WorkflowHandle, activityType?: string): Promise<ActivitySpan[]> {
  const events = (await handle.fetchHistory()).events ?? [];
  const byScheduledId = (id: unknown, event: HistoryEvent | undefined) =>
    event && String(id) === String(event.eventId) ? event : undefined;
  const spans: ActivitySpan[] = [];
  for (const scheduled of events) {
    const attributes = scheduled.activityTaskScheduledEventAttributes;
    if (!attributes || (activityType && attributes.activityType?.name !== activityType)) continue;
    const started = events.find((e) =>
      byScheduledId(e.activityTaskStartedEventAttributes?.scheduledEventId, scheduled),
    );
    const closed = events.find((e) => CLOSE_ATTRIBUTES.some((a) => byScheduledId(e[a]?.scheduledEventId, scheduled)));
    if (!started || !closed) continue; // still open
    spans.push({
      workflowId: handle.workflowId,
      activityType: attributes.activityType?.name ?? '',
      scheduled: eventMs(scheduled),
      started: eventMs(started),
      closed: eventMs(closed),
      attempt: started.activityTaskStartedEventAttributes?.attempt ?? 0,
      identity: started.activityTaskStartedEventAttributes?.identity ?? '',
      taskQueue: attributes.taskQueue?.name ?? '',
    });
  }
  return spans;
}

/** The most intervals open at one instant (an interval ending when another starts does not overlap it). */
export function maxOverlap(intervals: ReadonlyArray<{ start: number; end: number }>): number {
  const points = intervals.flatMap((i) => [
    { at: i.start, delta: 1 },
    { at: i.end, delta: -1 },
  ]);
  points.sort((a, b) => a.at - b.at || a.delta - b.delta); // ends before starts at the same instant
  let open = 0;
  let max = 0;
  for (const p of points) max = Math.max(max, (open += p.delta));
  return max;
}

/** How many of `times` fall in each full window of `windowMs` from `from` up to `to`: [from, from + w), …. */
export function countPerWindow(times: readonly number[], from: number, to: number, windowMs = 1000): number[] {
  const counts: number[] = [];
  for (let start = from; start + windowMs <= to; start += windowMs) {
    counts.push(times.filter((t) => t >= start && t < start + windowMs).length);
  }
  return counts;
}
