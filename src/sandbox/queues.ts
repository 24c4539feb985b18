/**
 * Priority groups. Each is its own Temporal task queue with its own workers, so a flood of `low` work never takes
 * capacity from `critical`. Queue names derive from one prefix: `<prefix>-critical`, `<prefix>-high`, …
 */
export const PRIORITIES = ['critical', 'high', 'default', 'low'] as const;
export type Priority = (typeof PRIORITIES)[number];

export function isPriority(value: string): value is Priority {
  return (PRIORITIES as readonly string[]).includes(value);
}

export function taskQueueName(prefix: string, priority: Priority): string {
  return `${prefix}-${priority}`;
}

/**
 * The task queue of a rate-limited activity (README "Rate limits"): `<prefix>-rate-<activity>`, one per limited
 * resource, shared by every job that calls it. Workers of the job's queue also serve it, with Temporal's task queue
 * rate limit set to the declared rate. Pure: the workflow sandbox derives it too.
 */
export function rateLimitQueueName(prefix: string, activity: string): string {
  return `${prefix}-rate-${activity}`;
}

/** Whether a task queue is named like a rate-limited activity queue (`<prefix>-rate-<activity>`). */
export function isRateLimitQueue(taskQueue: string): boolean {
  return /-rate-[A-Za-z0-9_]+$/.test(taskQueue);
}

/**
 * The prefix a priority task queue was named from (`jobs-default` → `jobs`); a queue not named that way is its own
 * prefix. Lets a workflow find its prefix from the task queue it runs on, which its history records.
 */
export function taskQueuePrefixOf(taskQueue: string): string {
  const priority = PRIORITIES.find((p) => taskQueue.endsWith(`-${p}`));
  return priority ? taskQueue.slice(0, -(priority.length + 1)) : taskQueue;
}
