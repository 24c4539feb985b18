import path from 'node:path';
import { msToNumber } from '@temporalio/common/lib/time';
import { Keyring } from './encryption';
import { isPriority, PRIORITIES, type Priority } from './sandbox/queues';

/**
 * Settings read from the environment, in one place. Temporal connection settings follow Temporal's own conventions
 * (`TEMPORAL_ADDRESS`, `TEMPORAL_NAMESPACE`, `TEMPORAL_API_KEY`, `TEMPORAL_TLS`), so a worker configured for the
 * `temporal` CLI works here unchanged.
 */
export interface Settings {
  /** Temporal frontend `host:port`. @default 'localhost:7233' (`TEMPORAL_ADDRESS`) */
  temporalAddress: string;
  /** @default 'default' (`TEMPORAL_NAMESPACE`) */
  temporalNamespace: string;
  /** API key for Temporal Cloud; implies TLS. (`TEMPORAL_API_KEY`) */
  temporalApiKey?: string;
  /** Use TLS to reach the server. @default false unless an API key is set (`TEMPORAL_TLS=true`) */
  temporalTls: boolean;
  /** Base URL of the Temporal Web UI, used for run links. @default 'http://localhost:8233' (`TEMPORAL_UI_URL`) */
  temporalUiUrl: string;
  /** Prefix of the four priority task queues (`<prefix>-critical`, …). @default 'jobs' (`JOBS_TASK_QUEUE_PREFIX`) */
  taskQueuePrefix: string;
  /** PostgreSQL URL; when unset the business database is a SQLite file. (`DATABASE_URL`) */
  databaseUrl?: string;
  /** SQLite file for the business database. @default './.data/app.sqlite' (`JOBS_SQLITE_PATH`) */
  sqlitePath: string;
  /** Where failure-rate alerts are POSTed as JSON; alerts only go to the log when unset. (`ALERT_WEBHOOK_URL`) */
  alertWebhookUrl?: string;
  /** Level of the Temporal worker runtime's own log lines. @default 'WARN' (`JOBS_LOG_LEVEL`) */
  logLevel: 'TRACE' | 'DEBUG' | 'INFO' | 'WARN' | 'ERROR';
  /**
   * AES-256-GCM keys for job arguments, results and every other payload, as `id:base64key,…`; the first encrypts,
   * all decrypt. Unset: payloads are stored as plain JSON. Clients and workers need the same keys.
   * (`JOBS_ENCRYPTION_KEYS`; `jobctl keygen <id>` makes one)
   */
  encryption?: Keyring;
  /**
   * A workflow bundle written by `jobctl bundle`; workers load it instead of bundling at start.
   * (`JOBS_WORKFLOW_BUNDLE`)
   */
  workflowBundlePath?: string;
  /**
   * Bearer token the codec endpoint (`/codec`, used by the Web UI and `temporal --codec-endpoint`) requires.
   * (`JOBS_CODEC_TOKEN`)
   */
  codecToken?: string;
  /**
   * API tokens of the HTTP service, `id:secret:scopes` entries (src/http/tokens.ts; `jobctl token create` makes one).
   * Unset: the HTTP service is unauthenticated, and so serves on loopback only. (`JOBS_API_TOKENS`)
   */
  apiTokens?: string;
  /**
   * Requests each API token (or client, without tokens) may make to the HTTP service, as `<n>/<second|minute|hour>`,
   * or `off`. @default 100/second (`JOBS_API_RATE_LIMIT`)
   */
  apiRateLimit: { max: number; windowMs: number } | false;
  /**
   * Overrides of the rates jobs declare in `rateLimits`, as `<activity>=<perSecond>,…`, e.g. `processWebhook=5` for an
   * account with a lower vendor limit. Only declared activities can be overridden (the workflow routes those to their
   * rate-limited queue); every worker process must get the same values. @default the declared rates
   * (`JOBS_RATE_LIMITS`)
   */
  rateLimits?: Readonly<Record<string, number>>;
  /** The health check's queue backlog and worker alerts (README "Queue backlog and worker alerts"). */
  queueAlerts: QueueAlertSettings;
  /**
   * How often a worker process serving Prometheus metrics (`--metrics-port`) samples the task-queue gauges.
   * @default 30000 ms (`JOBS_QUEUE_METRICS_INTERVAL`, a duration such as `30s`)
   */
  queueMetricsIntervalMs: number;
  /**
   * Worker Versioning (README "Shipping changed job code"): each worker process runs as a version
   * (`<deploymentName>:<buildId>`) of a Worker Deployment, and each job's `versioning` decides whether its runs stay on
   * the version they started on. Off: workers are unversioned, any worker takes any task (the dev loop).
   */
  workerVersioning: WorkerVersioningSettings;
}

/** The health check's task-queue alerts (README "Queue backlog and worker alerts"). */
export interface QueueAlertSettings {
  /**
   * Priority queues expected to have workers, with the rate-limited activity queues of their jobs; `[]` turns the
   * queue alerts off. @default the queues the declared jobs use (`JOBS_ALERT_QUEUES`: `critical,default,…` or `none`)
   */
  queues?: Priority[];
  /**
   * Alert when a queue's oldest waiting task is older than this. @default 300000 ms (`JOBS_ALERT_BACKLOG_AGE`, a
   * duration such as `5m`)
   */
  backlogAgeMs: number;
  /**
   * Alert "no worker polling" when no worker polled a queue for this long. Must exceed the server's long-poll interval
   * (`matching.longPollExpirationInterval`, 1 minute by default), after which an idle worker polls again.
   * @default 70000 ms (`JOBS_ALERT_NO_WORKER_AFTER`, a duration such as `70s`)
   */
  noWorkerAfterMs: number;
}

export interface WorkerVersioningSettings {
  /** @default false (`JOBS_WORKER_VERSIONING=on`) */
  enabled: boolean;
  /** The Worker Deployment's name. @default the task queue prefix (`JOBS_DEPLOYMENT_NAME`) */
  deploymentName: string;
  /**
   * This process's build ID. @default derived from the workflow bundle's content (same code, same build ID)
   * (`JOBS_BUILD_ID`)
   */
  buildId?: string;
}

/** Every default of a setting, in one place; `readSettings` applies them and the rest of the code reads them here. */
export const DEFAULT_SETTINGS = {
  temporalAddress: 'localhost:7233',
  temporalNamespace: 'default',
  temporalUiUrl: 'http://localhost:8233',
  taskQueuePrefix: 'jobs',
  sqlitePath: '.data/app.sqlite',
  logLevel: 'WARN',
  apiRateLimit: { max: 100, windowMs: 1000 },
  queueAlerts: { backlogAgeMs: 300_000, noWorkerAfterMs: 70_000 },
  queueMetricsIntervalMs: 30_000,
} as const satisfies Partial<Settings>;

export function readSettings(env: NodeJS.ProcessEnv = process.env): Settings {
  const apiKey = nonEmpty(env.TEMPORAL_API_KEY);
  const d = DEFAULT_SETTINGS;
  return {
    temporalAddress: nonEmpty(env.TEMPORAL_ADDRESS) ?? d.temporalAddress,
    temporalNamespace: nonEmpty(env.TEMPORAL_NAMESPACE) ?? d.temporalNamespace,
    temporalApiKey: apiKey,
    temporalTls: env.TEMPORAL_TLS ? env.TEMPORAL_TLS === 'true' || env.TEMPORAL_TLS === '1' : apiKey !== undefined,
    temporalUiUrl: (nonEmpty(env.TEMPORAL_UI_URL) ?? d.temporalUiUrl).replace(/\/+$/, ''),
    taskQueuePrefix: nonEmpty(env.JOBS_TASK_QUEUE_PREFIX) ?? d.taskQueuePrefix,
    databaseUrl: nonEmpty(env.DATABASE_URL),
    sqlitePath: path.resolve(nonEmpty(env.JOBS_SQLITE_PATH) ?? d.sqlitePath),
    alertWebhookUrl: nonEmpty(env.ALERT_WEBHOOK_URL),
    logLevel: parseLogLevel(nonEmpty(env.JOBS_LOG_LEVEL)),
    encryption: env.JOBS_ENCRYPTION_KEYS?.trim() ? Keyring.parse(env.JOBS_ENCRYPTION_KEYS) : undefined,
    codecToken: parseCodecToken(nonEmpty(env.JOBS_CODEC_TOKEN)),
    apiTokens: nonEmpty(env.JOBS_API_TOKENS),
    apiRateLimit: parseRateLimit(nonEmpty(env.JOBS_API_RATE_LIMIT)),
    rateLimits: parseActivityRateLimits(nonEmpty(env.JOBS_RATE_LIMITS)),
    queueAlerts: {
      queues: parseAlertQueues(nonEmpty(env.JOBS_ALERT_QUEUES)),
      backlogAgeMs: duration('JOBS_ALERT_BACKLOG_AGE', env.JOBS_ALERT_BACKLOG_AGE, d.queueAlerts.backlogAgeMs),
      noWorkerAfterMs: duration(
        'JOBS_ALERT_NO_WORKER_AFTER',
        env.JOBS_ALERT_NO_WORKER_AFTER,
        d.queueAlerts.noWorkerAfterMs,
      ),
    },
    queueMetricsIntervalMs: duration(
      'JOBS_QUEUE_METRICS_INTERVAL',
      env.JOBS_QUEUE_METRICS_INTERVAL,
      d.queueMetricsIntervalMs,
    ),
    workflowBundlePath: nonEmpty(env.JOBS_WORKFLOW_BUNDLE) && path.resolve(nonEmpty(env.JOBS_WORKFLOW_BUNDLE)!),
    workerVersioning: {
      enabled: parseOnOff('JOBS_WORKER_VERSIONING', nonEmpty(env.JOBS_WORKER_VERSIONING)),
      deploymentName: parseVersionPart(
        'JOBS_DEPLOYMENT_NAME',
        nonEmpty(env.JOBS_DEPLOYMENT_NAME) ?? nonEmpty(env.JOBS_TASK_QUEUE_PREFIX) ?? d.taskQueuePrefix,
      ),
      buildId: nonEmpty(env.JOBS_BUILD_ID) && parseVersionPart('JOBS_BUILD_ID', nonEmpty(env.JOBS_BUILD_ID)!),
    },
  };
}

function parseOnOff(name: string, value: string | undefined): boolean {
  if (value === undefined || value === 'off' || value === 'false' || value === '0') return false;
  if (value === 'on' || value === 'true' || value === '1') return true;
  throw new TypeError(`${name} must be on or off, got "${value}"`);
}

/**
 * A deployment name or build ID: Temporal joins them as `<deployment>:<build>`, so neither may hold a colon (nor a
 * space or slash, which would not survive the CLI's and the Web UI's links); at most 255 characters.
 */
function parseVersionPart(name: string, value: string): string {
  if (!/^[A-Za-z0-9._-]{1,255}$/.test(value))
    throw new TypeError(`${name} must be 1-255 letters, digits, ".", "_" or "-", got "${value}"`);
  return value;
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value.trim();
}

const LOG_LEVELS = ['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR'] as const;

function parseLogLevel(value: string | undefined): Settings['logLevel'] {
  if (value === undefined) return DEFAULT_SETTINGS.logLevel;
  const level = LOG_LEVELS.find((l) => l === value.toUpperCase());
  if (!level) throw new TypeError(`JOBS_LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}, got "${value}"`);
  return level;
}

/** A duration such as `5m`, `70s` or `1.5h` (or ms), above zero; a TypeError naming the variable otherwise. */
function duration(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined || value.trim() === '') return fallback;
  let ms = NaN;
  try {
    ms = msToNumber(value.trim() as Parameters<typeof msToNumber>[0]);
  } catch {
    // reported below
  }
  if (!Number.isFinite(ms) || ms <= 0)
    throw new TypeError(`${name} must be a duration above zero such as 30s, 5m or 1h, got "${value}"`);
  return ms;
}

/** `JOBS_ALERT_QUEUES`: priority queues, comma-separated, or `none`; unset means the queues the declared jobs use. */
function parseAlertQueues(value: string | undefined): Priority[] | undefined {
  if (value === undefined) return undefined;
  if (value === 'none') return [];
  const queues = value.split(',').map((q) => q.trim());
  for (const q of queues) {
    if (!isPriority(q))
      throw new TypeError(`JOBS_ALERT_QUEUES must be queues among ${PRIORITIES.join(', ')}, or none; got "${q}"`);
  }
  return queues as Priority[];
}

function parseCodecToken(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  // It may travel in a URL path (the Web UI cannot send headers without SSO), so: URL-safe, and long enough.
  if (!/^[A-Za-z0-9._~-]{24,}$/.test(value))
    throw new TypeError(
      'JOBS_CODEC_TOKEN must be at least 24 URL-safe characters (letters, digits, ".", "_", "~", "-")',
    );
  return value;
}

const WINDOWS: Record<string, number> = {
  s: 1000,
  second: 1000,
  m: 60_000,
  minute: 60_000,
  h: 3_600_000,
  hour: 3_600_000,
};

function parseRateLimit(value: string | undefined): Settings['apiRateLimit'] {
  if (value === undefined) return DEFAULT_SETTINGS.apiRateLimit;
  if (value === 'off') return false;
  const match = /^(\d+)\s*\/\s*([a-z]+)$/.exec(value);
  const max = Number(match?.[1]);
  const windowMs = WINDOWS[match?.[2] ?? ''];
  if (!match || !Number.isSafeInteger(max) || max < 1 || windowMs === undefined) {
    throw new TypeError(`JOBS_API_RATE_LIMIT must be <n>/second, <n>/minute, <n>/hour or off, got "${value}"`);
  }
  return { max, windowMs };
}

/** Parses `JOBS_RATE_LIMITS`: `<activity>=<perSecond>` entries, comma-separated; a rate above 0, fractions allowed. */
export function parseActivityRateLimits(value: string | undefined): Settings['rateLimits'] {
  if (value === undefined) return undefined;
  const limits: Record<string, number> = {};
  for (const entry of value.split(',').map((e) => e.trim())) {
    const match = /^([A-Za-z_$][\w$]*)\s*=\s*([0-9.]+)$/.exec(entry);
    const perSecond = Number(match?.[2]);
    if (!match || !Number.isFinite(perSecond) || perSecond <= 0) {
      throw new TypeError(
        `JOBS_RATE_LIMITS must be <activity>=<per second>,… with rates above 0 (e.g. processWebhook=5), got "${entry}"`,
      );
    }
    if (match[1]! in limits) throw new TypeError(`JOBS_RATE_LIMITS names ${match[1]} twice`);
    limits[match[1]!] = perSecond;
  }
  return limits;
}
