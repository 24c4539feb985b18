import { Runtime, type NativeConnection, type Worker, type WorkflowBundle } from '@temporalio/worker';
import type { Duration } from '@temporalio/common';
import type { Logger } from 'pino';
import { loadApplication, type Application } from '../application';
import { openApplication, type AppResources } from './app-resources';
import { JobClient } from '../client/client';
import type { Settings } from '../config';
import { dataConverterFor } from '../encryption';
import { createJobLogger } from '../instrumentation/logger';
import { taskQueueName } from '../sandbox/queues';
import { formatRate } from './rate-limits';
import { jobs } from '../sandbox/jobs';
import { monitoredTaskQueues, startTaskQueueMetrics } from './task-queue-health';
import {
  connectWorker,
  createWorkers,
  buildIdOf,
  bundleWorkflows,
  formatVersion,
  loadWorkflowBundle,
  rateLimitedQueues,
  type DeploymentVersion,
  runWorkers,
  type QueueCapacity,
} from './workers';

/**
 * What a worker process is made of, wired in one place for `jobctl worker`, `jobctl dev`, the benchmarks and the test
 * harness: settings → Temporal connection → shared services (database, mail, external clients) → every job's
 * activities → one worker per queue. Each part can be handed in already open (a test's environment, a dev process's
 * database); what the process opened itself, it closes.
 */
export interface WorkerProcessOptions {
  /** Where Temporal, the database and the external services are; the payload keys; the queue prefix. */
  settings: Settings;
  /**
   * Queues this process serves, each with its concurrency; none for a process that only needs the client and services.
   */
  queues: QueueCapacity[];
  /** An open connection to use. @default one opened with `connectWorker` (waits for the server), closed on `close()` */
  connection?: NativeConnection;
  /** The client the health check reads visibility with. @default `JobClient.connect(settings)`, closed on `close()` */
  client?: JobClient;
  /** The application whose jobs this process runs. @default the one `loadApplication()` finds (`jobctl`'s) */
  application?: Application;
  /** Open services (and their activities) to use. @default `openApplication(application, settings, …)`, closed on `close()` */
  app?: AppResources;
  /** Replaces or adds activity dependencies when the process opens the services itself (tests, benchmarks). */
  deps?: Record<string, unknown>;
  /** Job and activity log lines. @default JSON lines on stdout */
  logger?: Logger;
  /** @default the bundle at `settings.workflowBundlePath`, else the workflows bundled now */
  workflowBundle?: WorkflowBundle;
  /** Job log lines and metrics; off only to measure their cost. @default true */
  instrumentation?: boolean;
  /** @default '30s' */
  shutdownGraceTime?: Duration;
  /** @default the SDK's */
  maxCachedWorkflows?: number;
  /** Serve Prometheus metrics on this port (only when the process opens its own connection). */
  metricsPort?: number;
}

export interface WorkerProcess {
  settings: Settings;
  connection: NativeConnection;
  client: JobClient;
  app: AppResources;
  workers: Worker[];
  /** Runs the workers until SIGINT/SIGTERM or until `signal` aborts; resolves once they have drained. */
  run(signal?: AbortSignal): Promise<void>;
  /** Closes what this process opened (connection, client, services), in reverse order. */
  close(): Promise<void>;
  /** `jobs-default (concurrency 10), …`: what this process serves. */
  served: string;
  /** The deployment version its workers run as, when Worker Versioning is on (`settings.workerVersioning`). */
  version?: DeploymentVersion;
}

export async function startWorkerProcess(options: WorkerProcessOptions): Promise<WorkerProcess> {
  const { settings } = options;
  const owned: Array<() => Promise<unknown>> = [];
  const close = async () => {
    for (const step of owned.splice(0).reverse()) await step();
  };
  try {
    // A bad bundle path fails before any waiting on the server.
    const bundlePath = options.workflowBundle ? undefined : settings.workflowBundlePath;
    let workflowBundle = options.workflowBundle ?? (bundlePath ? loadWorkflowBundle(bundlePath) : undefined);
    const application = options.application ?? loadApplication();
    const versioning = settings.workerVersioning;
    let version: DeploymentVersion | undefined;
    if (versioning.enabled && options.queues.length > 0) {
      // The build ID is the bundle's unless set: bundle now (once) to know it.
      workflowBundle ??= await bundleWorkflows({
        workflowsPath: application.workflowsPath,
        instrumentation: options.instrumentation !== false,
      });
      version = { deploymentName: versioning.deploymentName, buildId: versioning.buildId ?? buildIdOf(workflowBundle) };
    }
    const connection =
      options.connection ??
      (await connectWorker(settings, {
        metricsPort: options.metricsPort,
        ...(version ? { metricLabels: { worker_deployment_version: formatVersion(version) } } : {}),
      }));
    if (!options.connection) owned.push(() => connection.close());
    const client = options.client ?? (await JobClient.connect(settings));
    if (!options.client) owned.push(() => client.close());
    const baseLogger = options.logger ?? createJobLogger();
    // Every job and activity line says which version ran it.
    const logger = version ? baseLogger.child({ version: formatVersion(version) }) : baseLogger;
    const app =
      options.app ??
      (await openApplication(application, settings, { jobs: client, alertLogger: logger, ...options.deps }));
    if (!options.app) owned.push(() => app.close());
    const workers =
      options.queues.length === 0
        ? []
        : await createWorkers({
            connection,
            namespace: settings.temporalNamespace,
            taskQueuePrefix: settings.taskQueuePrefix,
            queues: options.queues,
            activities: app.activities,
            workflowsPath: application.workflowsPath,
            workflowBundle,
            logger,
            instrumentation: options.instrumentation,
            shutdownGraceTime: options.shutdownGraceTime,
            maxCachedWorkflows: options.maxCachedWorkflows,
            dataConverter: dataConverterFor(settings.encryption),
            rateLimits: settings.rateLimits,
            deploymentVersion: version,
          });
    if (options.metricsPort) {
      // The task-queue gauges (README "Queue backlog and worker alerts"), sampled by every process serving metrics,
      // so each one's /metrics is current whichever process ran the last health check.
      const sampler = startTaskQueueMetrics({
        client: client.temporal,
        meter: Runtime.instance().metricMeter,
        queues: monitoredTaskQueues(settings.taskQueuePrefix, jobs, { rateLimits: settings.rateLimits }),
        pollerFreshMs: settings.queueAlerts.noWorkerAfterMs,
        intervalMs: settings.queueMetricsIntervalMs,
        onError: (err) => logger.warn({ event: 'task_queue_metrics_failed', error: String(err) }),
      });
      owned.push(async () => sampler.stop());
    }
    const served = [
      ...options.queues.map(
        (q) => `${taskQueueName(settings.taskQueuePrefix, q.queue)} (concurrency ${q.concurrency})`,
      ),
      ...rateLimitedQueues(settings.taskQueuePrefix, options.queues, settings.rateLimits).map(
        (q) => `${q.taskQueue} (${formatRate(q.perSecond)}, concurrency ${q.concurrency})`,
      ),
    ].join(', ');
    return {
      settings,
      connection,
      client,
      app,
      workers,
      served,
      version,
      close,
      run: (signal) => runWorkers(workers, signal),
    };
  } catch (err) {
    await close();
    throw err;
  }
}
