import { execFile } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import { Client as TemporalClient, Connection } from '@temporalio/client';
import { msToTs } from '@temporalio/common/lib/time';
import { Client } from 'pg';
import { DEFAULT_SETTINGS, readSettings } from '../config';
import { promoteWhenPolling } from '../client/deployments';
import { openDatabase } from '../db/database';
import { loadApplication } from '../application';
import { DYNAMIC_CONFIG_FILE, writeDynamicConfig } from '../dev-server';
import { cliTypeName, SEARCH_ATTRIBUTES } from '../sandbox/search-attributes';
import { resolveTemporalCli } from '../temporal-cli';
import { buildIdOf, bundleWorkflows } from '../worker/workers';
import { APP_DATABASE } from './app-database';
import { resolveStackBinaries, TEMPORAL_SERVER_VERSION, type ResolvedBinaries } from './binaries';
import { ensureDatabases, startLocalPostgres, tail, withDatabase, type RunningPostgres } from './postgres';
import { ManagedProcess } from './processes';
import {
  MAX_STACK_PORT,
  renderServerConfig,
  servicePorts,
  TEMPORAL_SERVICES,
  type TemporalService,
} from './server-config';

const run = promisify(execFile);

export { APP_DATABASE };

export interface StackOptions {
  /** Where everything lives: PostgreSQL's data, the rendered config, logs, the workflow bundle. @default '.data/stack' */
  dataDir?: string;
  /** The frontend's gRPC port; the other services sit beside it (src/stack/server-config.ts). @default 7233 */
  port?: number;
  /** Port of the stack's own PostgreSQL (127.0.0.1 only). @default 5433 */
  postgresPort?: number;
  /**
   * An existing PostgreSQL server instead of our own: a URL of a user that may create databases. The stack creates
   * `temporal`, `temporal_visibility` and `jobs` on it when missing. @default our own PostgreSQL under `dataDir`
   */
  databaseUrl?: string;
  /** How many `jobctl worker` processes (each serves every queue); 0 for none. @default 2 */
  workers?: number;
  /** @default 'default' */
  namespace?: string;
  /**
   * Dynamic config values on top of docker/dynamicconfig.yaml (the compose file's), by key; null removes a key. The
   * merged file is written to `<dataDir>/config/dynamicconfig.yaml`. @default none: the services read
   * docker/dynamicconfig.yaml itself
   */
  dynamicConfig?: Record<string, unknown>;
  /** Progress lines. @default stderr */
  log?: (line: string) => void;
  /** Called when a process of the stack exits without being stopped (crash or kill from outside). */
  onUnexpectedExit?: (name: string, code: number | null, signal: NodeJS.Signals | null) => void;
}

export interface Stack {
  /** `127.0.0.1:<port>` of the frontend. */
  address: string;
  namespace: string;
  dataDir: string;
  logDir: string;
  /** The rendered server config file. */
  configFile: string;
  /** The dynamic config file the services read: docker/dynamicconfig.yaml, or the merged one (`dynamicConfig`). */
  dynamicConfigFile: string;
  /** The app database the workers use (DATABASE_URL). */
  databaseUrl: string;
  /** Our own PostgreSQL, unless `databaseUrl` was given. */
  postgres?: RunningPostgres;
  /** The four Temporal services, each its own process. */
  services: Record<TemporalService, ManagedProcess>;
  workers: ManagedProcess[];
  binaries: ResolvedBinaries;
  temporalCli: string;
  /** What the application's `dev` hook started (its fakes), as `[label, value]` lines for the banner. */
  applicationServices: ReadonlyArray<readonly [string, string]>;
  /** Environment for a `jobctl` process against this stack (TEMPORAL_ADDRESS, DATABASE_URL, …). */
  env: NodeJS.ProcessEnv;
  /** How long each phase took, in ms: binaries, postgres, schema, services, namespace, workers. */
  timings: Record<string, number>;
  /** Stops workers, then the worker, frontend, matching and history services, then PostgreSQL. */
  stop(): Promise<void>;
  /** SIGKILLs whatever still runs, synchronously (for `process.on('exit')`). */
  killNow(): void;
}

/** Something the stack started, stopped in reverse order. */
interface Part {
  name: string;
  stop(): Promise<void>;
  killNow(): void;
  pid?: () => number | undefined;
}

/**
 * Node's arguments that run jobctl the way this process runs the library: the compiled CLI beside this file (dist/),
 * or the TypeScript sources through tsx (tests, `npm run stack` in this repository).
 */
const JOBCTL_NODE_ARGS =
  path.extname(__filename) === '.ts'
    ? ['--require', require.resolve('tsx/cjs'), path.resolve(__dirname, '../cli/jobctl.ts')]
    : [path.resolve(__dirname, '../cli/jobctl.js')];

/**
 * `jobctl stack`: a Temporal server on PostgreSQL as four processes (history, matching, frontend, worker) with the
 * dynamic config compose mounts, PostgreSQL for Temporal and for the app, and `jobctl worker` processes on it.
 * A restart reuses everything under `dataDir`: schemas are only brought up to date.
 */
export async function startStack(options: StackOptions = {}): Promise<Stack> {
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const dataDir = path.resolve(options.dataDir ?? '.data/stack');
  const logDir = path.join(dataDir, 'logs');
  const port = options.port ?? 7233;
  const namespace = options.namespace ?? DEFAULT_SETTINGS.temporalNamespace;
  const workerCount = options.workers ?? 2;
  const address = `127.0.0.1:${port}`;
  const timings: Record<string, number> = {};
  let phaseStarted = Date.now();
  const phase = (name: string) => {
    timings[name] = Date.now() - phaseStarted;
    phaseStarted = Date.now();
  };
  if (port > MAX_STACK_PORT) {
    throw new Error(
      `--port ${port}: at most ${MAX_STACK_PORT} (the services' membership ports, 300 below theirs, must fit ` +
        "Temporal's PostgreSQL schema, which stores them as smallint)",
    );
  }
  fs.mkdirSync(logDir, { recursive: true });
  assertNotRunning(dataDir);

  const binaries = await resolveStackBinaries({ log });
  const cli = await resolveTemporalCli({ log });
  if (!cli)
    throw new Error(
      'the stack needs the Temporal CLI (to register search attributes): install Go or set TEMPORAL_CLI_PATH',
    );
  phase('binaries');

  const started: Part[] = [];
  const stopAll = async () => {
    const parts = started.splice(0).reverse();
    // The workers drain together (SIGINT: in-flight activities finish), then the rest stops one by one.
    const workerParts = parts.filter((p) => p.name.startsWith('worker-'));
    if (workerParts.length > 0) {
      log(`Stopping ${workerParts.length} worker process${workerParts.length > 1 ? 'es' : ''} (draining)…`);
      await Promise.all(workerParts.map((p) => p.stop()));
    }
    for (const p of parts) if (!workerParts.includes(p)) await p.stop();
    fs.rmSync(path.join(dataDir, 'pids.json'), { force: true });
  };
  const killNow = () => {
    for (const p of started) p.killNow();
  };
  const writePids = () =>
    fs.writeFileSync(
      path.join(dataDir, 'pids.json'),
      JSON.stringify(Object.fromEntries(started.flatMap((p) => (p.pid?.() ? [[p.name, p.pid()]] : [])))),
    );

  try {
    const ports = servicePorts(port);
    await assertPortsFree(
      Object.values(ports).flatMap((p) => [p.grpc, p.membership, ...(p.http ? [p.http] : [])]),
      'the Temporal services (--port)',
    );

    // PostgreSQL: ours (initdb once, then reused) or the one of --database-url.
    let adminUrl: string;
    let postgres: RunningPostgres | undefined;
    if (options.databaseUrl) {
      adminUrl = options.databaseUrl;
    } else {
      const postgresPort = options.postgresPort ?? 5433;
      await assertPortsFree([postgresPort], 'PostgreSQL (--postgres-port)');
      postgres = await startLocalPostgres({
        dataDir: path.join(dataDir, 'postgres'),
        port: postgresPort,
        logFile: path.join(logDir, 'postgres.log'),
        log,
      });
      const pg = postgres;
      started.push({
        stop: async () => {
          log('Stopping PostgreSQL…');
          await pg.stop();
        },
        killNow: () => pg.process.kill('SIGKILL'),
        name: 'postgres',
        pid: () => pg.process.pid,
      });
      writePids();
      adminUrl = postgres.adminUrl;
    }
    const created = await ensureDatabases(adminUrl, ['temporal', 'temporal_visibility', APP_DATABASE]);
    if (created.length > 0) log(`Created databases: ${created.join(', ')}.`);
    phase('postgres');

    await migrateTemporalSchemas(binaries.sqlTool.path, adminUrl, log);
    phase('schema');

    const pgUrl = new URL(adminUrl);
    const configDir = path.join(dataDir, 'config');
    fs.mkdirSync(configDir, { recursive: true });
    const configFile = path.join(configDir, 'stack.yaml');
    const overrides = options.dynamicConfig ?? {};
    const dynamicConfigFile =
      Object.keys(overrides).length > 0
        ? writeDynamicConfig(path.join(configDir, 'dynamicconfig.yaml'), overrides)
        : DYNAMIC_CONFIG_FILE;
    fs.writeFileSync(
      configFile,
      renderServerConfig({
        postgresAddress: `${pgUrl.hostname}:${pgUrl.port || 5432}`,
        postgresUser: decodeURIComponent(pgUrl.username),
        postgresPassword: decodeURIComponent(pgUrl.password),
        frontendPort: port,
        dynamicConfigFile,
      }),
    );

    const services = {} as Record<TemporalService, ManagedProcess>;
    for (const service of TEMPORAL_SERVICES) {
      const proc = new ManagedProcess({
        name: service,
        command: binaries.server.path,
        args: [
          '--root',
          dataDir,
          '--config',
          'config',
          '--env',
          'stack',
          '--allow-no-auth',
          'start',
          '--service',
          service,
        ],
        logFile: path.join(logDir, `${service}.log`),
        stopTimeoutMs: 20_000,
        onUnexpectedExit: options.onUnexpectedExit,
      });
      log(`Starting the Temporal ${service} service (:${ports[service].grpc})…`);
      proc.start();
      services[service] = proc;
      started.push({
        stop: async () => {
          log(`Stopping the Temporal ${service} service…`);
          await proc.stop();
        },
        killNow: () => proc.killNow(),
        name: service,
        pid: () => proc.pid,
      });
      writePids();
      if (service === 'frontend') await waitForFrontend(address, proc, 90_000);
      // The worker service serves no gRPC of its own: it is up once it listens for membership.
      else await waitForPort(service === 'worker' ? ports.worker.membership : ports[service].grpc, proc, 90_000);
    }
    phase('services');

    await registerNamespace(address, namespace, log);
    await registerSearchAttributes(cli.path, address, namespace, log);
    phase('namespace');

    // The app database: migrated and seeded with demo data (users, invoices, webhook payloads) once.
    const databaseUrl = withDatabase(adminUrl, APP_DATABASE);
    const application = loadApplication();
    const app = await openDatabase({ databaseUrl, sqlitePath: '', migrations: application.migrations });
    try {
      const seeded = await application.seed?.(app.db);
      if (seeded) log(`Seeded ${seeded} in ${APP_DATABASE}.`);
    } finally {
      await app.close();
    }

    // The application's own dev services (local fakes of what it calls), on free ports: the workers get their env.
    const appServices = await application.dev?.({ anyPort: true });
    if (appServices) {
      started.push({ name: 'application services', stop: () => appServices.stop(), killNow: () => undefined });
    }

    const env: NodeJS.ProcessEnv = {
      ...process.env,
      TEMPORAL_ADDRESS: address,
      TEMPORAL_NAMESPACE: namespace,
      DATABASE_URL: databaseUrl,
      ...appServices?.env,
    };
    const workers: ManagedProcess[] = [];
    if (workerCount > 0) {
      // Bundled once here (unless JOBS_WORKFLOW_BUNDLE names one), so N workers do not each bundle at start.
      let bundleFile = env.JOBS_WORKFLOW_BUNDLE;
      if (!bundleFile) {
        bundleFile = path.join(dataDir, 'workflow-bundle.js');
        fs.writeFileSync(bundleFile, (await bundleWorkflows()).code);
      }
      const workerEnv = { ...env, JOBS_WORKFLOW_BUNDLE: bundleFile };
      const ready: Array<Promise<void>> = [];
      for (let i = 1; i <= workerCount; i++) {
        let markReady!: () => void;
        ready.push(new Promise<void>((resolve) => (markReady = resolve)));
        const worker = new ManagedProcess({
          name: `worker-${i}`,
          command: process.execPath,
          args: [...JOBCTL_NODE_ARGS, 'worker'],
          env: workerEnv,
          logFile: path.join(logDir, `worker-${i}.log`),
          stopSignal: 'SIGINT',
          onUnexpectedExit: options.onUnexpectedExit,
          onLine: (line) => line.startsWith('jobctl worker: serving') && markReady(),
        });
        worker.start();
        workers.push(worker);
      }
      for (const worker of workers)
        started.push({
          name: worker.name,
          stop: () => worker.stop(),
          killNow: () => worker.killNow(),
          pid: () => worker.pid,
        });
      writePids();
      log(`Starting ${workerCount} worker process${workerCount > 1 ? 'es' : ''}…`);
      await Promise.all(
        workers.map((w, i) =>
          Promise.race([
            ready[i]!,
            w.whenExited().then(() => {
              throw new Error(`${w.name} exited before it was ready:\n${tail(w.options.logFile)}`);
            }),
          ]),
        ),
      );
      // Workers stop before the services (they are pushed last, so stopped first): drain happens against a live server.
      const versioning = readSettings(workerEnv).workerVersioning;
      if (versioning.enabled) {
        // One deployment, nothing ramped by hand: the workers' version becomes current (README "Shipping changed job
        // code"), or new runs would wait for `jobctl deploy set-current`.
        const buildId = versioning.buildId ?? buildIdOf({ code: fs.readFileSync(bundleFile, 'utf8') });
        const connection = await Connection.connect({ address });
        try {
          const client = new TemporalClient({ connection, namespace });
          await promoteWhenPolling(client, versioning.deploymentName, buildId, { timeoutMs: 90_000 });
          log(`Worker Versioning on: ${versioning.deploymentName}:${buildId} is the current version.`);
        } finally {
          await connection.close();
        }
      }
    }
    phase('workers');

    return {
      address,
      namespace,
      dataDir,
      logDir,
      configFile,
      dynamicConfigFile,
      databaseUrl,
      postgres,
      services,
      workers,
      binaries,
      temporalCli: cli.path,
      applicationServices: appServices?.banner ?? [],
      env,
      timings,
      stop: stopAll,
      killNow,
    };
  } catch (err) {
    await stopAll().catch(() => undefined);
    throw err;
  }
}

/**
 * Brings `temporal` and `temporal_visibility` to the schema version this server release ships (the schemas are
 * embedded in temporal-sql-tool): `setup-schema -v 0.0` once (the versioning table), then `update-schema`, which
 * applies only what is missing, so a restart changes nothing.
 */
async function migrateTemporalSchemas(sqlTool: string, adminUrl: string, log: (line: string) => void): Promise<void> {
  const url = new URL(adminUrl);
  const env = {
    ...process.env,
    SQL_HOST: url.hostname,
    SQL_PORT: url.port || '5432',
    SQL_USER: decodeURIComponent(url.username),
    SQL_PASSWORD: decodeURIComponent(url.password),
    SQL_PLUGIN: 'postgres12',
  };
  for (const [database, schema] of [
    ['temporal', 'postgresql/v12/temporal'],
    ['temporal_visibility', 'postgresql/v12/visibility'],
  ] as const) {
    const client = new Client({ connectionString: withDatabase(adminUrl, database) });
    await client.connect();
    let hasVersioning: boolean;
    try {
      const { rows } = await client.query<{ t: string | null }>("SELECT to_regclass('schema_version') AS t");
      hasVersioning = rows[0]?.t !== null;
    } finally {
      await client.end();
    }
    const tool = async (args: string[]) => {
      try {
        await run(sqlTool, ['--db', database, ...args], { env });
      } catch (err) {
        const e = err as { stderr?: string; stdout?: string; message: string };
        throw new Error(
          `temporal-sql-tool ${args.join(' ')} on ${database} failed:\n${e.stderr || e.stdout || e.message}`,
        );
      }
    };
    if (!hasVersioning) {
      log(`Setting up the ${database} schema (${TEMPORAL_SERVER_VERSION})…`);
      await tool(['setup-schema', '-v', '0.0']);
    }
    await tool(['update-schema', '--schema-name', schema]);
  }
}

/** Registers the namespace (3 days' retention, as compose's temporal-namespace one-shot), unless it exists. */
async function registerNamespace(address: string, namespace: string, log: (line: string) => void): Promise<void> {
  const connection = await Connection.connect({ address });
  try {
    try {
      await connection.workflowService.registerNamespace({
        namespace,
        workflowExecutionRetentionPeriod: msToTs('3 days'),
      });
      log(`Registered namespace ${namespace}.`);
    } catch (err) {
      if ((err as { code?: number }).code !== 6 /* ALREADY_EXISTS */) throw err;
    }
    // Other services learn of a new namespace from their cache refresh: wait until the frontend serves it.
    const deadline = Date.now() + 60_000;
    for (;;) {
      try {
        await connection.workflowService.describeNamespace({ namespace });
        return;
      } catch (err) {
        if (Date.now() > deadline) throw err;
        await new Promise((r) => setTimeout(r, 500));
      }
    }
  } finally {
    await connection.close();
  }
}

/**
 * `temporal operator search-attribute create` for each attribute job runs carry (src/search-attributes.ts, as compose's
 * one-shot and the dev server register them); creating one that exists with the same
 * type is a no-op. Retried while the namespace is new to the services' caches.
 */
async function registerSearchAttributes(
  cli: string,
  address: string,
  namespace: string,
  log: (line: string) => void,
): Promise<void> {
  const args = ['operator', 'search-attribute', 'create', '--address', address, '--namespace', namespace];
  for (const key of SEARCH_ATTRIBUTES) args.push('--name', key.name, '--type', cliTypeName(key.type));
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      await run(cli, args);
      log(`Search attributes ${SEARCH_ATTRIBUTES.map((k) => k.name).join(', ')} registered.`);
      return;
    } catch (err) {
      if (Date.now() > deadline) {
        const e = err as { stderr?: string; message: string };
        throw new Error(`registering search attributes failed: ${e.stderr || e.message}`);
      }
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
}

async function waitForFrontend(address: string, proc: ManagedProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    if (!proc.running)
      throw new Error(`the frontend service exited before it was ready:\n${tail(proc.options.logFile)}`);
    try {
      const connection = await Connection.connect({ address, connectTimeout: '1s' });
      try {
        await connection.workflowService.getSystemInfo({});
        return;
      } finally {
        await connection.close();
      }
    } catch (err) {
      lastError = err;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  throw new Error(
    `the frontend at ${address} is not ready after ${timeoutMs} ms: ${String(lastError)}\n${tail(proc.options.logFile)}`,
  );
}

async function waitForPort(port: number, proc: ManagedProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!proc.running)
      throw new Error(`the ${proc.name} service exited before it was ready:\n${tail(proc.options.logFile)}`);
    if (await isListening(port)) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(
    `the ${proc.name} service does not listen on :${port} after ${timeoutMs} ms:\n${tail(proc.options.logFile)}`,
  );
}

function isListening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host: '127.0.0.1' });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

async function assertPortsFree(ports: number[], what: string): Promise<void> {
  const taken: number[] = [];
  for (const p of ports) if (await isListening(p)) taken.push(p);
  if (taken.length > 0)
    throw new Error(`port${taken.length > 1 ? 's' : ''} ${taken.join(', ')} for ${what} already in use`);
}

/** A previous `jobctl stack` on this directory that still runs (or was killed and left its processes behind). */
function assertNotRunning(dataDir: string): void {
  const file = path.join(dataDir, 'pids.json');
  if (!fs.existsSync(file)) return;
  let pids: Record<string, number> = {};
  try {
    pids = JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, number>;
  } catch {
    // An unreadable file is stale.
  }
  const alive = Object.entries(pids).filter(([, pid]) => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  });
  if (alive.length > 0) {
    throw new Error(
      `a stack on ${dataDir} still runs (${alive.map(([n, p]) => `${n} ${p}`).join(', ')}): stop it with Ctrl-C, ` +
        `or end those processes (kill <pid>) if its jobctl is gone`,
    );
  }
  fs.rmSync(file, { force: true });
}
