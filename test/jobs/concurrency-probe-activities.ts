import { Context } from '@temporalio/activity';

export interface ConcurrencyProbeDeps {
  /** Test hook: awaited when a probe's activity starts, with its id (a test holds a permit as long as it likes). */
  onConcurrencyProbe?: (id: string) => Promise<void> | void;
}

export function createConcurrencyProbeActivities({ onConcurrencyProbe }: ConcurrencyProbeDeps) {
  return {
    /**
     * Holds its job's permit for `holdMs`, heartbeating, so a worker killed mid-hold is noticed within seconds (the
     * heartbeat timeout) and the attempt runs again elsewhere.
     */
    async concurrencyProbe(id: string, holdMs: number): Promise<void> {
      const context = Context.current();
      await onConcurrencyProbe?.(id);
      for (let left = holdMs; left > 0; left -= 250) {
        context.heartbeat();
        await context.sleep(Math.min(250, left));
      }
    },
  };
}
