import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { syncSchedules } from '../src/client/schedules';
import { healthCheck } from './jobs';
import { createHarness, eventually, type Harness } from './harness';

/**
 * The health check's Schedule skips a tick while the previous check still runs. No worker serves the health check's
 * queue here, so the first check started never ends, and every later tick meets it still running.
 */
describe('the health-check Schedule', () => {
  let h: Harness;
  let scheduleId: string | undefined;

  beforeAll(async () => {
    h = await createHarness();
  });
  afterAll(async () => {
    if (scheduleId) {
      const handle = h.env.client.schedule.getHandle(scheduleId);
      const running = (await handle.describe()).info.runningActions;
      await handle.delete();
      for (const { workflow } of running) {
        await h.env.client.workflow.getHandle(workflow.workflowId, workflow.firstExecutionRunId).terminate('test over');
      }
    }
    await h?.close();
  });

  it('skips the ticks that come while a check is still running: one run, the other ticks counted as skipped', async () => {
    // Its declared schedule (skip overlap), ticking every second instead of every minute.
    const everySecond = { ...healthCheck, schedule: { ...healthCheck.schedule!, every: '1s' } };
    scheduleId = (await syncSchedules(h.client, [everySecond])).created[0]?.scheduleId;
    expect(scheduleId).toBeDefined();
    const handle = h.env.client.schedule.getHandle(scheduleId!);
    const info = await eventually(
      async () => {
        const { info } = await handle.describe();
        return info.numActionsSkippedOverlap >= 3 ? info : undefined;
      },
      30_000,
      'three ticks skipped for overlap',
    );
    expect(info.runningActions).toHaveLength(1);
    expect(info.numActionsTaken).toBe(1);
  });
});
