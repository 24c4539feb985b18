import { ScheduleAlreadyRunning, ScheduleOverlapPolicy } from '@temporalio/client';
import type { JobClient } from './client';
import { healthCheck } from '../workflows/health-check';
import { taskQueueName } from './queues';

export interface HealthCheckScheduleOptions {
  /** How often. @default '1m' */
  every?: string;
  /** The window each check computes failure rates over. @default 15 minutes */
  windowMinutes?: number;
}

/**
 * Creates (or updates) the Temporal Schedule that runs the health check. One per deployment (task queue prefix);
 * a tick is skipped while the previous check still runs. Returns the schedule ID.
 */
export async function installHealthCheckSchedule(
  client: JobClient,
  options: HealthCheckScheduleOptions = {},
): Promise<string> {
  const scheduleId = `${client.taskQueuePrefix}-health-check`;
  const windowMinutes = options.windowMinutes ?? 15;
  const definition = {
    spec: { intervals: [{ every: options.every ?? '1m' }] },
    action: {
      type: 'startWorkflow' as const,
      workflowType: healthCheck.workflowType,
      workflowId: `health-check/${client.taskQueuePrefix}`,
      taskQueue: taskQueueName(client.taskQueuePrefix, healthCheck.queue),
      args: [{ windowMinutes }],
    },
    policies: { overlap: ScheduleOverlapPolicy.SKIP },
  };
  try {
    await client.temporal.schedule.create({ scheduleId, ...definition });
  } catch (err) {
    if (!(err instanceof ScheduleAlreadyRunning)) throw err;
    await client.temporal.schedule.getHandle(scheduleId).update((previous) => ({ ...previous, ...definition }));
  }
  return scheduleId;
}
