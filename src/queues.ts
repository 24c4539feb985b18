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
