import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadedApplication } from '../application';
import {
  bundleWorkflowCode,
  DefaultLogger,
  NativeConnection,
  Runtime,
  Worker,
  type LogLevel,
  type LogMetadata,
  type WorkflowBundle,
} from '@temporalio/worker';
import type { DataConverter, Duration } from '@temporalio/common';
import { DEFAULT_SETTINGS, type Settings } from '../config';
import { retryTableInterceptor, retryTablesByActivity } from './retry-interceptor';
import { createJobLogger } from '../instrumentation/logger';
import { activityLogging, jobEventSinks } from './worker-instrumentation';
import {
  activeTracing,
  activityTracingInterceptors,
  bundleHasTracing,
  WORKFLOW_TRACING_MODULE,
  workflowTracingSinks,
} from '../instrumentation/tracing';
import type { Logger } from 'pino';
import { jobs } from '../sandbox/jobs';
import { isRateLimitQueue, rateLimitQueueName, taskQueueName } from '../sandbox/queues';
import { rateLimitsInForce, type ActivityRateLimit } from './rate-limits';
import type { QueueCapacity } from './queue-spec';

export { DEFAULT_CONCURRENCY, parseQueueSpec, type QueueCapacity } from './queue-spec';

/** One priority group served by this process, with its own concurrency. */
export interface WorkerRunnerOptions {
  connection: NativeConnection;
  namespace: string;
  /** @default DEFAULT_SETTINGS.taskQueuePrefix ('jobs') */
  taskQueuePrefix?: string;
  queues: QueueCapacity[];
  /** Activity implementations, built with their dependencies. */
  activities: object;
  /** The application's workflows module, bundled when no bundle is given. @default the loaded application's */
  workflowsPath?: string;
  /** A pre-built bundle; when omitted, the workflows module is bundled once for all queues. */
  workflowBundle?: WorkflowBundle;
  /**
   * On SIGINT/SIGTERM the worker stops polling and in-flight activities get this long to finish; past it they are
   * cancelled and Temporal retries them on another worker. @default '30s'
   */
  shutdownGraceTime?: Duration;
  identity?: string;
  /** Where job and activity log lines go. @default JSON lines on stdout at info level */
  logger?: Logger;
  /**
   * Job log lines, activity lines and job metrics. Off only to measure what they cost (the throughput benchmark); the
   * workflow bundle must match (`bundleWorkflows({ instrumentation: false })`). @default true
   */
  instrumentation?: boolean;
  /** Workflows kept in memory between tasks; 0 replays every workflow from its history on each task. @default SDK's */
  maxCachedWorkflows?: number;
  /**
   * Payload encryption (`dataConverterFor(settings.encryption)`); clients must use the same keys. @default plain JSON
   */
  dataConverter?: DataConverter;
  /**
   * Rates that replace the declared ones, by activity (`settings.rateLimits`, from `JOBS_RATE_LIMITS`).
   * @default the declared rates
   */
  rateLimits?: Readonly<Record<string, number>>;
  /**
   * Run as this version of a Worker Deployment (README "Shipping changed job code"): every worker of the process, the
   * rate-limited activity queues' included, polls as `<deploymentName>:<buildId>`, and each workflow runs pinned or
   * auto-upgrading as its job declares (`versioning`). @default unversioned
   */
  deploymentVersion?: DeploymentVersion;
}

/** A version of a Worker Deployment: what Temporal routes pinned runs and ramps by. */
export interface DeploymentVersion {
  deploymentName: string;
  buildId: string;
}

/**
 * The build ID of a workflow bundle: `b-` and the first 12 hex digits of the SHA-256 of its code. The same workflow code
 * (same sources, same options) gives the same build ID in every process and on every machine that bundled it the same
 * way, so the workers of one image, or of one `jobctl bundle` file, form one version; any change to the workflows
 * gives a new one. Activity code is not in the bundle: a change to activities only is the same version (activities are
 * not replayed; they may change freely).
 */
export function buildIdOf(bundle: WorkflowBundle): string {
  if (!('code' in bundle)) throw new TypeError('buildIdOf needs a bundle with its code ({ code })');
  return `b-${createHash('sha256').update(bundle.code).digest('hex').slice(0, 12)}`;
}

/** `<deployment>:<build>`, as Temporal, its CLI and the Web UI write a version. */
export const formatVersion = (v: DeploymentVersion): string => `${v.deploymentName}:${v.buildId}`;

/** The worker options that make a worker part of a deployment version, or none for an unversioned worker. */
function deploymentOptions(version: DeploymentVersion | undefined) {
  return version
    ? {
        workerDeploymentOptions: {
          version: { deploymentName: version.deploymentName, buildId: version.buildId },
          useWorkerVersioning: true as const,
          // A workflow that declares nothing (a job's child workflow) stays on the version it started on.
          defaultVersioningBehavior: 'PINNED' as const,
        },
      }
    : {};
}

/** A rate-limited activity queue a process serves, with the rate it asks Temporal for and its slots. */
export interface RateLimitedQueue extends ActivityRateLimit {
  taskQueue: string;
  /** Slots for the activity in this process: the largest concurrency among the served queues whose jobs call it. */
  concurrency: number;
}

/**
 * The rate-limited activity queues a process serving `queues` also serves: those of the activities that jobs on those
 * queues rate-limit (README "Rate limits"). Throws a TypeError for an inconsistent declaration or override.
 */
export function rateLimitedQueues(
  prefix: string,
  queues: QueueCapacity[],
  overrides?: Readonly<Record<string, number>>,
): RateLimitedQueue[] {
  return [...rateLimitsInForce(jobs, overrides).values()].flatMap((limit) => {
    const served = queues.filter((q) => limit.queues.includes(q.queue));
    if (served.length === 0) return [];
    const concurrency = Math.max(...served.map((q) => q.concurrency));
    return [{ ...limit, taskQueue: rateLimitQueueName(prefix, limit.activity), concurrency }];
  });
}

/** `.ts` when the library runs from its sources (tests, `npm start` here), `.js` from the compiled build. */
const EXT = path.extname(__filename);
const sandboxModule = (name: string) => path.resolve(__dirname, '../sandbox', name + EXT);

/**
 * The library's own workflows, registered by every worker next to the application's: the debounce workflow and the
 * per-key concurrency semaphore (README "Debounce", "Per-key concurrency").
 */
const LIBRARY_WORKFLOWS = [sandboxModule('debounce-workflow'), sandboxModule('concurrency-semaphore-workflow')];

/**
 * The bundle's entry: the application's workflows module and the library's workflows, exported together. Written
 * once per content to a temporary directory (Temporal's bundler takes one workflows path).
 */
function bundleEntry(workflowsPath: string): string {
  const code = [workflowsPath, ...LIBRARY_WORKFLOWS].map((file) => `export * from ${JSON.stringify(file)};`).join('\n');
  const dir = path.join(os.tmpdir(), 'durable-jobs-bundle-entries');
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${createHash('sha256').update(code).digest('hex').slice(0, 16)}.ts`);
  if (!fs.existsSync(file)) fs.writeFileSync(file, `${code}\n`);
  return file;
}

/** `<dir>/node_modules` for `dir` and each of its ancestors, nearest first. */
function nodeModulesDirs(dir: string): string[] {
  const dirs: string[] = [];
  for (let current = dir; ; current = path.dirname(current)) {
    if (path.basename(current) !== 'node_modules') dirs.push(path.join(current, 'node_modules'));
    if (path.dirname(current) === current) return dirs;
  }
}

/** The workflows module of the application `jobctl` (or a test) loaded; throws when none was. */
function applicationWorkflowsPath(): string {
  const app = loadedApplication();
  if (!app) throw new Error('no application loaded: pass workflowsPath, or load one with loadApplication()');
  return app.workflowsPath;
}

/**
 * Bundles the workflows once; every queue's worker in the process shares the bundle. Workflows read their job's
 * declaration, which holds a zod schema: zod is stateless, so it is preloaded once per V8 context instead of being
 * initialised again for every workflow execution (that cost a third of the throughput). So are the application's
 * workflows module (every job's declaration and workflow: their top level declares, it does not remember), the job
 * registry and the argument check at the door: evaluating them per run was most of what a workflow task cost beyond
 * the bare SDK's (`bench latency`). Argument validation is always in; instrumentation (outermost, so it logs a run
 * refused at the door as a failure) only when asked. `durable-jobs/*` imports in workflow code resolve to this very
 * copy of the library, so the workflows and the interceptors share one job registry.
 */
export async function bundleWorkflows(
  options: {
    /** The application's workflows module. @default the loaded application's (`Application.workflowsPath`) */
    workflowsPath?: string;
    instrumentation?: boolean;
    /**
     * The OpenTelemetry workflow interceptors (README "Traces"): a RunWorkflow span per run and a StartActivity span
     * per activity, exported through the worker's `exporter` sink. @default on when this process traces
     */
    tracing?: boolean;
  } = {},
): Promise<WorkflowBundle> {
  const workflowsPath = options.workflowsPath ?? applicationWorkflowsPath();
  const instrumentation = options.instrumentation === false ? [] : [sandboxModule('job-instrumentation')];
  const tracing = options.tracing ?? activeTracing() !== undefined;
  const libraryRoot = path.resolve(__dirname, '..');
  return bundleWorkflowCode({
    workflowsPath: bundleEntry(workflowsPath),
    // Expiry outermost: an expired job never started, so the instrumentation inside logs neither start nor failure.
    // Tracing outside it all: its RunWorkflow span covers the whole run, an expired one included. It adds no commands.
    workflowInterceptorModules: [
      ...(tracing ? [WORKFLOW_TRACING_MODULE] : []),
      sandboxModule('job-expiry'),
      ...instrumentation,
      sandboxModule('argument-validation'),
      // Innermost: a run refused at the door never waits for a concurrency permit.
      sandboxModule('concurrency-limit'),
    ],
    preloadModules: [
      'zod',
      sandboxModule('jobs'),
      workflowsPath,
      sandboxModule('argument-validation'),
      sandboxModule('job-expiry'),
      ...instrumentation,
    ],
    webpackConfigHook: (config) => ({
      ...config,
      resolve: {
        ...config.resolve,
        alias: { ...(config.resolve?.alias as object), 'durable-jobs': libraryRoot },
        // The entry lives in a temporary directory: packages (the SDK's, zod) are found from the application's
        // folders and the library's, as Node would from either.
        modules: ['node_modules', ...nodeModulesDirs(path.dirname(workflowsPath)), ...nodeModulesDirs(__dirname)],
      },
    }),
    logger: quietBundlerLogger,
  });
}

/**
 * A workflow bundle written by `jobctl bundle`, so worker processes skip bundling at start (seconds of CPU, and
 * ~90 MB of resident memory per process). Refuses a missing file, and a bundle that lacks one of the declared jobs'
 * workflows (built from other code), naming what is wrong.
 */
export function loadWorkflowBundle(file: string): WorkflowBundle {
  let code: string;
  try {
    code = fs.readFileSync(file, 'utf8');
  } catch {
    throw new Error(
      `JOBS_WORKFLOW_BUNDLE: no workflow bundle at ${file} (write one with \`jobctl bundle --out ${file}\`)`,
    );
  }
  const missing = jobs.map((j) => j.workflowType as string).filter((type) => !code.includes(type));
  if (missing.length > 0) {
    throw new Error(
      `JOBS_WORKFLOW_BUNDLE: ${file} was built from other code: it lacks ${missing.join(', ')}; ` +
        'rebuild it with `jobctl bundle`',
    );
  }
  if (activeTracing() && !bundleHasTracing({ code }))
    throw new Error(
      `JOBS_WORKFLOW_BUNDLE: ${file} was built with --no-tracing, but OTEL_* turns tracing on; ` +
        'rebuild it with `jobctl bundle`',
    );
  return { code };
}

/**
 * One Temporal worker per queue, sharing the connection and the workflow bundle. Throws if a retry table names an
 * activity the worker does not register.
 */
export async function createWorkers(options: WorkerRunnerOptions): Promise<Worker[]> {
  if (options.queues.length === 0) throw new TypeError('queues must name at least one queue');
  const retryTables = retryTablesByActivity(jobs);
  const unknown = [...retryTables.keys()].filter((activity) => !(activity in options.activities));
  if (unknown.length > 0) throw new TypeError(`retry tables name activities no job registers: ${unknown.join(', ')}`);
  const instrumented = options.instrumentation !== false;
  const workflowBundle =
    options.workflowBundle ??
    (await bundleWorkflows({ workflowsPath: options.workflowsPath, instrumentation: instrumented }));
  const traced = bundleHasTracing(workflowBundle);
  if (activeTracing() && !traced)
    throw new Error(
      'tracing is on (OTEL_*) but the workflow bundle was built without it, so workflows would make no spans: ' +
        'rebuild it with `jobctl bundle` (without --no-tracing), or unset JOBS_WORKFLOW_BUNDLE to bundle at start',
    );
  // Outermost: the attempt's span covers the other interceptors, and its error is the one Temporal records.
  const tracingInterceptors = activityTracingInterceptors();
  const prefix = options.taskQueuePrefix ?? DEFAULT_SETTINGS.taskQueuePrefix;
  const logger = options.logger ?? createJobLogger();
  const retries = retryTableInterceptor(retryTables);
  const limited = rateLimitedQueues(prefix, options.queues, options.rateLimits);
  const missing = limited.filter(({ activity }) => !(activity in options.activities)).map((l) => l.activity);
  if (missing.length > 0) throw new TypeError(`rate limits name activities no job registers: ${missing.join(', ')}`);
  const queueWorkers = Promise.all(
    options.queues.map(({ queue, concurrency }) =>
      Worker.create({
        connection: options.connection,
        namespace: options.namespace,
        taskQueue: taskQueueName(prefix, queue),
        workflowBundle,
        activities: options.activities,
        ...(options.identity ? { identity: options.identity } : {}),
        maxConcurrentActivityTaskExecutions: concurrency,
        maxConcurrentWorkflowTaskExecutions: Math.max(2, concurrency),
        shutdownGraceTime: options.shutdownGraceTime ?? '30s',
        // Logging sees the typed error before the retry table turns it into an ApplicationFailure.
        interceptors: {
          activity: [...tracingInterceptors, ...(instrumented ? [retries, activityLogging(logger)] : [retries])],
        },
        ...(instrumented || traced
          ? { sinks: { ...(instrumented ? jobEventSinks(logger) : {}), ...(traced ? workflowTracingSinks() : {}) } }
          : {}),
        ...(options.maxCachedWorkflows === undefined ? {} : { maxCachedWorkflows: options.maxCachedWorkflows }),
        ...(options.dataConverter ? { dataConverter: options.dataConverter } : {}),
        ...deploymentOptions(options.deploymentVersion),
      }),
    ),
  );
  // One activity-only worker per rate-limited activity (README "Rate limits"): Temporal's task queue rate limit holds
  // its calls to the rate across every process, the other processes' workers on the same queue included (they all ask
  // for the same rate). Same interceptors as the queue workers; no workflows.
  const rateWorkers = Promise.all(
    limited.map((limit) =>
      Worker.create({
        connection: options.connection,
        namespace: options.namespace,
        taskQueue: limit.taskQueue,
        activities: options.activities,
        ...(options.identity ? { identity: options.identity } : {}),
        maxConcurrentActivityTaskExecutions: limit.concurrency,
        maxTaskQueueActivitiesPerSecond: limit.perSecond,
        shutdownGraceTime: options.shutdownGraceTime ?? '30s',
        interceptors: {
          activity: [...tracingInterceptors, ...(instrumented ? [retries, activityLogging(logger)] : [retries])],
        },
        ...(options.dataConverter ? { dataConverter: options.dataConverter } : {}),
        // Same version as the queue workers: a pinned run's activities go to its own version's workers.
        ...deploymentOptions(options.deploymentVersion),
      }),
    ),
  );
  const [byQueue, byRate] = await Promise.all([queueWorkers, rateWorkers]);
  return [...byQueue, ...byRate];
}

/**
 * Runs the workers until SIGINT/SIGTERM (the Temporal runtime installs those handlers and shuts every worker
 * down gracefully) or until `signal` aborts. Resolves once all have drained.
 */
export async function runWorkers(workers: Worker[], signal?: AbortSignal): Promise<void> {
  const onAbort = () => workers.forEach((w) => w.getState() === 'RUNNING' && w.shutdown());
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    await Promise.all(workers.map((w) => w.run()));
  } finally {
    signal?.removeEventListener('abort', onAbort);
  }
}

/**
 * The SDK's logger, without the one warning every rate-limited activity queue's worker would print at start: it runs
 * no workflows by design (README "Rate limits"), which the SDK reports as "No workflows registered".
 */
class WorkerLogger extends DefaultLogger {
  override log(level: LogLevel, message: string, meta?: LogMetadata): void {
    const queue = typeof meta?.taskQueue === 'string' ? meta.taskQueue : '';
    if (level === 'WARN' && message.startsWith('No workflows registered') && isRateLimitQueue(queue)) return;
    super.log(level, message, meta);
  }
}

/**
 * Opens the worker's connection to Temporal with the environment's settings, waiting for the server with backoff
 * (1 s doubling to 30 s) and saying so on stderr: a worker started before its server, or during a restart, comes up
 * when the server does. Also sets up the process's Temporal runtime: its log level and, with `metricsPort`, the
 * Prometheus endpoint (SDK series plus the job series).
 */
export async function connectWorker(
  settings: Settings,
  options: {
    metricsPort?: number;
    signal?: AbortSignal;
    /** Labels every metric series of the process carries (e.g. its deployment version). */
    metricLabels?: Record<string, string>;
  } = {},
): Promise<NativeConnection> {
  Runtime.install({
    logger: new WorkerLogger(settings.logLevel),
    ...(options.metricsPort
      ? {
          telemetryOptions: {
            metrics: {
              prometheus: { bindAddress: `0.0.0.0:${options.metricsPort}`, countersTotalSuffix: true },
              ...(options.metricLabels ? { globalTags: options.metricLabels } : {}),
            },
          },
        }
      : {}),
  });
  for (let delayMs = 1000; ; delayMs = Math.min(delayMs * 2, 30_000)) {
    try {
      return await NativeConnection.connect({
        address: settings.temporalAddress,
        tls: settings.temporalTls || undefined,
        apiKey: settings.temporalApiKey,
      });
    } catch (err) {
      if (options.signal?.aborted) throw err;
      process.stderr.write(
        `worker: cannot reach Temporal at ${settings.temporalAddress} (${(err as Error).message}); ` +
          `retrying in ${delayMs / 1000} s\n`,
      );
      await new Promise((resolve) => setTimeout(resolve, delayMs));
    }
  }
}

const quietBundlerLogger = {
  trace() {},
  debug() {},
  info() {},
  warn(message: string, meta?: unknown) {
    console.warn(message, meta ?? '');
  },
  error(message: string, meta?: unknown) {
    console.error(message, meta ?? '');
  },
  log() {},
};
