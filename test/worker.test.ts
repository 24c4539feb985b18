import { describe, expect, it } from 'vitest';
import { parseQueueSpec } from '../src/worker/workers';

describe('jobctl worker --queues', () => {
  it('gives each listed queue its own concurrency, like sidekiq -q critical -c 5', () => {
    expect(parseQueueSpec('critical:5,default:3,low:1')).toEqual([
      { queue: 'critical', concurrency: 5 },
      { queue: 'default', concurrency: 3 },
      { queue: 'low', concurrency: 1 },
    ]);
    expect(parseQueueSpec(['critical', 'low:2'], 7)).toEqual([
      { queue: 'critical', concurrency: 7 },
      { queue: 'low', concurrency: 2 },
    ]);
  });

  it('serves all four queues when none are listed', () => {
    expect(parseQueueSpec(undefined).map((q) => q.queue)).toEqual(['critical', 'high', 'default', 'low']);
  });

  it.each([
    ['urgent:5', /queue "urgent" must be one of critical, high, default, low/],
    ['low:0', /concurrency of queue "low" must be a positive integer/],
    ['low:x', /concurrency of queue "low" must be a positive integer/],
    ['low,low:2', /queue "low" is listed twice/],
  ])('rejects %s with an error naming the part', (spec, error) => {
    expect(() => parseQueueSpec(spec)).toThrow(error);
  });
});
