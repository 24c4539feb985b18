import { performance } from 'node:perf_hooks';
import { NativeConnection, Worker } from '@temporalio/worker';
import type { Settings } from '../../src/config';
import { createBareActivities } from './activities';

export { bareLocalWorkflow, bareRemoteWorkflow } from './workflows';

/** A plain SDK worker serving the bare workflows on its own task queue, until `stop()`. */
export interface BareSdkWorker {
  taskQueue: string;
  /** Listens to `bareNoop` starts; `at` is `performance.now()`. Replaces the previous listener. */
  onStarted(listener: (id: string, at: number) => void): void;
  /** The error the worker stopped with, if it stopped before `stop()`. */
  failure(): unknown;
  /** Shuts the worker down, waits for it to drain, closes its connection. */
  stop(): Promise<void>;
}

/**
 * Starts the bare-SDK baseline's worker as the Temporal samples do: its own `NativeConnection`, `workflowsPath`, the
 * activities, the slots. No interceptors, no sinks, no data converter, no prebuilt bundle. `concurrency` is the
 * benchmark's `--concurrency`, as our workers get it (workflow task slots at least 2, as ours and as the SDK requires).
 */
export async function startBareSdkWorker(
  settings: Settings,
  { taskQueue, concurrency }: { taskQueue: string; concurrency: number },
): Promise<BareSdkWorker> {
  const connection = await NativeConnection.connect({
    address: settings.temporalAddress,
    tls: settings.temporalTls || undefined,
    apiKey: settings.temporalApiKey,
  });
  let listener: ((id: string, at: number) => void) | undefined;
  let worker: Worker;
  try {
    worker = await Worker.create({
      connection,
      namespace: settings.temporalNamespace,
      taskQueue,
      workflowsPath: require.resolve('./workflows'),
      activities: createBareActivities((id) => listener?.(id, performance.now())),
      maxConcurrentActivityTaskExecutions: concurrency,
      maxConcurrentWorkflowTaskExecutions: Math.max(2, concurrency),
      maxConcurrentLocalActivityExecutions: concurrency,
    });
  } catch (err) {
    await connection.close();
    throw err;
  }
  let failure: unknown;
  const running = worker.run().catch((err: unknown) => void (failure = err));
  return {
    taskQueue,
    onStarted: (l) => void (listener = l),
    failure: () => failure,
    async stop() {
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await running;
      await connection.close();
    },
  };
}
