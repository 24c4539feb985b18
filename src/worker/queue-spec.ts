import { isPriority, PRIORITIES, type Priority } from '../sandbox/queues';

/**
 * A priority queue a worker process serves, with its slots. Apart from the workers (workers.ts) so that jobctl can
 * define `worker --queues`/`--concurrency` without loading the Temporal worker.
 */
export interface QueueCapacity {
  queue: Priority;
  /** Activities (and workflow tasks) this process runs at once for the queue. */
  concurrency: number;
}

export const DEFAULT_CONCURRENCY = 10;

/**
 * Parses `critical:5,default:3,low:1` (or `critical default`, with `defaultConcurrency`) into queue capacities.
 * Throws a TypeError naming the bad part.
 */
export function parseQueueSpec(
  spec: string | string[] | undefined,
  defaultConcurrency = DEFAULT_CONCURRENCY,
): QueueCapacity[] {
  const parts = (Array.isArray(spec) ? spec : spec ? [spec] : [...PRIORITIES])
    .flatMap((s) => s.split(','))
    .map((s) => s.trim())
    .filter(Boolean);
  const seen = new Set<string>();
  return parts.map((part) => {
    const [name, count] = part.split(':');
    if (!name || !isPriority(name)) throw new TypeError(`queue "${name}" must be one of ${PRIORITIES.join(', ')}`);
    if (seen.has(name)) throw new TypeError(`queue "${name}" is listed twice`);
    seen.add(name);
    const concurrency = count === undefined ? defaultConcurrency : Number(count);
    if (!Number.isInteger(concurrency) || concurrency < 1)
      throw new TypeError(`concurrency of queue "${name}" must be a positive integer, got "${count}"`);
    return { queue: name, concurrency };
  });
}
