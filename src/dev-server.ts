import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { Connection } from '@temporalio/client';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { resolveTemporalCli, TEMPORAL_CLI_VERSION } from './temporal-cli';
import { DEFAULT_SETTINGS } from './config';
import { devServerSearchAttributeArgs } from './sandbox/search-attributes';

export interface DevServerOptions {
  /** gRPC port; 0 picks a free one. @default 7233 */
  port?: number;
  /** Web UI port; 0 picks a free one. @default port + 1000 */
  uiPort?: number;
  /** Run without the Web UI. @default false */
  headless?: boolean;
  /** SQLite file for the server's state, so runs survive a restart; in memory when omitted. */
  dbFilename?: string;
  /** @default '127.0.0.1' */
  ip?: string;
  /** @default DEFAULT_SETTINGS.temporalNamespace ('default') */
  namespace?: string;
  /** Server log level. @default 'warn' */
  logLevel?: 'debug' | 'info' | 'warn' | 'error';
  /** How long to wait for the server to answer health checks. @default 60 s */
  readyTimeoutMs?: number;
  /**
   * Codec endpoint the Web UI asks to decode payloads (`--ui-codec-endpoint`), e.g.
   * `http://localhost:3000/codec/<token>`
   * from `jobctl http` with JOBS_CODEC_TOKEN. The browser calls it, so it must be reachable from there.
   */
  uiCodecEndpoint?: string;
  /**
   * Run the server in its own process group, so a Ctrl-C in the terminal reaches only this process, which drains its
   * workers before it stops the server (otherwise the server quits first and the draining workers retry against it).
   * The caller must stop it (`stop()`, and on exit). @default false
   */
  ownProcessGroup?: boolean;
  /**
   * File that receives the server's own stdout and stderr (replaced at each start), e.g. for the test suite. Otherwise
   * only their last lines are kept, for the error when the server fails to start. Not used when the Temporal SDK
   * downloads the CLI (no Temporal CLI and no Go): that server's output goes where the SDK sends it.
   */
  logFile?: string;
  /**
   * Dynamic config on top of the project's (`docker/dynamicconfig.yaml`, which compose mounts too); `null` removes a
   * key, e.g. to measure without it.
   */
  dynamicConfig?: Record<string, unknown>;
  /** Extra `temporal server start-dev` arguments. */
  extraArgs?: string[];
  /** Progress lines (Go build, fallbacks). @default stderr */
  log?: (line: string) => void;
}

export interface DevServer {
  /** `host:port` of the gRPC frontend. */
  address: string;
  namespace: string;
  /** Web UI URL, unless headless. */
  uiUrl?: string;
  /** The server process, when we spawned it (absent for the SDK-download fallback). */
  process?: ChildProcess;
  stop(): Promise<void>;
}

/**
 * Starts a real Temporal dev server (the Temporal CLI's `server start-dev`), waits until it answers, and returns
 * how to reach it. Used by `jobctl server`, `npm start`, the test suite and the benchmarks alike.
 */
export async function startDevServer(options: DevServerOptions = {}): Promise<DevServer> {
  // Ports we pick (port 0) are free when picked, but another process can take one before the server binds it: then
  // the server stops at once with "address already in use", and a start on newly picked ports is the fix.
  const picksPorts = options.port === 0 || options.uiPort === 0;
  for (let attempt = 1; ; attempt++) {
    try {
      return await startDevServerOnce(options);
    } catch (err) {
      if (!picksPorts || attempt >= 3 || !String(err).includes('address already in use')) throw err;
    }
  }
}

async function startDevServerOnce(options: DevServerOptions): Promise<DevServer> {
  const ip = options.ip ?? '127.0.0.1';
  const namespace = options.namespace ?? DEFAULT_SETTINGS.temporalNamespace;
  const port = options.port === 0 ? await freePort() : (options.port ?? 7233);
  const uiPort = options.uiPort === 0 ? await freePort() : (options.uiPort ?? port + 1000);
  const address = `${ip}:${port}`;
  const uiUrl = options.headless ? undefined : `http://localhost:${uiPort}`;
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  if (options.dbFilename) fs.mkdirSync(path.dirname(path.resolve(options.dbFilename)), { recursive: true });

  const cli = await resolveTemporalCli({ log });
  if (!cli) return startWithSdkDownload({ ...options, ip, port, uiPort, namespace, log });

  const args = [
    'server',
    'start-dev',
    '--ip',
    ip,
    '--port',
    String(port),
    '--namespace',
    namespace,
    '--log-level',
    options.logLevel ?? 'warn',
  ];
  args.push(...dynamicConfigArgs(options.dynamicConfig));
  // JobName, JobKey, TenantId: every run carries them from its start (README "Finding runs").
  args.push(...devServerSearchAttributeArgs());
  if (options.headless) args.push('--headless');
  else args.push('--ui-port', String(uiPort));
  if (options.uiCodecEndpoint && !options.headless) args.push('--ui-codec-endpoint', options.uiCodecEndpoint);
  if (options.dbFilename) {
    // WAL with synchronous=NORMAL: still crash-safe for the database file, without an fsync per transaction
    // (the default made the server wait on the disk, not the CPU, and capped throughput).
    args.push(
      '--db-filename',
      path.resolve(options.dbFilename),
      '--sqlite-pragma',
      'journal_mode=wal',
      '--sqlite-pragma',
      'synchronous=normal',
    );
  }
  args.push(...(options.extraArgs ?? []));

  const logFile = options.logFile ? path.resolve(options.logFile) : undefined;
  if (logFile) fs.mkdirSync(path.dirname(logFile), { recursive: true });
  // Opened before the spawn, so a path that cannot be written fails the start with its own error.
  const logStream = logFile ? fs.createWriteStream(logFile, { fd: fs.openSync(logFile, 'w') }) : undefined;
  const child = spawn(cli.path, args, {
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: options.ownProcessGroup ?? false,
  });
  let output = '';
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-8000);
    logStream?.write(chunk);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  // 'close' comes after both pipes are drained, so the file ends with the server's last line.
  child.once('close', () => logStream?.end());

  try {
    await waitUntilServing(address, options.readyTimeoutMs ?? 60_000, exited, () =>
      logFile ? `${output}\n(full log: ${logFile})` : output,
    );
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }
  return {
    address,
    namespace,
    uiUrl,
    process: child,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

async function waitUntilServing(
  address: string,
  timeoutMs: number,
  exited: Promise<number | null>,
  output: () => string,
) {
  const deadline = Date.now() + timeoutMs;
  let died: number | null | undefined;
  void exited.then((code) => (died = code));
  let lastError: unknown;
  while (Date.now() < deadline) {
    if (died !== undefined)
      throw new Error(`Temporal dev server exited with code ${died} before it was ready:\n${output()}`);
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
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  throw new Error(
    `Temporal dev server at ${address} not ready after ${timeoutMs} ms: ${String(lastError)}\n${output()}`,
  );
}

/** For machines without Go: the SDK downloads a Temporal CLI release (needs internet). */
async function startWithSdkDownload(
  o: Required<Pick<DevServerOptions, 'ip' | 'port' | 'uiPort' | 'namespace' | 'log'>> & DevServerOptions,
): Promise<DevServer> {
  o.log(`No Temporal CLI and no Go found: downloading Temporal CLI ${TEMPORAL_CLI_VERSION} through the Temporal SDK.`);
  const env = await TestWorkflowEnvironment.createLocal({
    server: {
      executable: { type: 'cached-download', version: TEMPORAL_CLI_VERSION },
      ip: o.ip,
      port: o.port,
      namespace: o.namespace,
      dbFilename: o.dbFilename,
      ui: !o.headless,
      uiPort: o.headless ? undefined : o.uiPort,
      extraArgs: [
        ...dynamicConfigArgs(o.dynamicConfig),
        ...devServerSearchAttributeArgs(),
        ...(o.uiCodecEndpoint && !o.headless ? ['--ui-codec-endpoint', o.uiCodecEndpoint] : []),
        ...(o.extraArgs ?? []),
      ],
    },
  });
  return {
    address: `${o.ip}:${o.port}`,
    namespace: o.namespace,
    uiUrl: o.headless ? undefined : `http://localhost:${o.uiPort}`,
    stop: () => env.teardown(),
  };
}

/**
 * The dynamic config every server of this project runs with: one file, `docker/dynamicconfig.yaml`, which compose
 * mounts into its Temporal server and every dev server (`jobctl server`, `npm start`, tests, benchmarks) is started
 * with, as `--dynamic-config-value key=<JSON>`. Only global values (no constraints) are supported.
 */
export const DYNAMIC_CONFIG_FILE = path.resolve(__dirname, '../docker/dynamicconfig.yaml');

export function readDynamicConfig(file = DYNAMIC_CONFIG_FILE): Record<string, unknown> {
  const parsed: unknown = parseYaml(fs.readFileSync(file, 'utf8'));
  const config: Record<string, unknown> = {};
  for (const [key, entries] of Object.entries((parsed ?? {}) as Record<string, unknown>)) {
    const [entry, ...more] = Array.isArray(entries) ? (entries as Array<Record<string, unknown>>) : [];
    if (!entry || more.length > 0 || !('value' in entry) || 'constraints' in entry) {
      throw new Error(`${file}: "${key}" must be one global value (- value: …), as dev servers take no constraints`);
    }
    config[key] = entry.value;
  }
  return config;
}

/**
 * Writes `file`: docker/dynamicconfig.yaml's values with `overrides` on top (a key set to null is left out), in the
 * server's file format (one global `- value:` per key). What `jobctl stack --dynamic-config-value` runs the services
 * with. Returns `file`.
 */
export function writeDynamicConfig(file: string, overrides: Record<string, unknown>): string {
  const entries = mergedDynamicConfig(overrides).map(([key, value]) => [key, [{ value }]]);
  const header = `# docker/dynamicconfig.yaml with these overrides: ${JSON.stringify(overrides)}\n`;
  fs.writeFileSync(file, header + stringifyYaml(Object.fromEntries(entries)));
  return file;
}

function dynamicConfigArgs(overrides: Record<string, unknown> = {}): string[] {
  return mergedDynamicConfig(overrides).flatMap(([key, value]) => [
    '--dynamic-config-value',
    `${key}=${JSON.stringify(value)}`,
  ]);
}

/** docker/dynamicconfig.yaml's values with `overrides` on top, as entries; a key set to null is left out. */
function mergedDynamicConfig(overrides: Record<string, unknown>): Array<[string, unknown]> {
  return Object.entries({ ...readDynamicConfig(), ...overrides }).filter(([, value]) => value !== null);
}

/** A port nobody listens on right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}
