import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { Client } from 'pg';
import { findOnPath, isExecutable } from '../temporal-cli';

/** Where Debian's PostgreSQL puts its server binaries (`apt-get install postgresql`), newest first. */
const DEBIAN_POSTGRES_ROOT = '/usr/lib/postgresql';

/** The role the stack's own PostgreSQL is created with: the same user and password compose's PostgreSQL has. */
export const STACK_POSTGRES_USER = 'temporal';
const STACK_POSTGRES_PASSWORD = 'temporal';

export interface LocalPostgresOptions {
  /** Data directory; created (initdb) when it holds no cluster yet. */
  dataDir: string;
  /** TCP port on 127.0.0.1 (the only listener: no Unix socket). */
  port: number;
  /** File that receives the server's output (appended). */
  logFile: string;
  /** Progress lines. */
  log: (line: string) => void;
  /** How long to wait for the server to accept connections. @default 60 s */
  readyTimeoutMs?: number;
}

export interface RunningPostgres {
  /** `postgres://temporal:temporal@127.0.0.1:<port>/postgres`: a superuser connection to the maintenance database. */
  adminUrl: string;
  process: ChildProcess;
  /** True when this start ran initdb. */
  initialized: boolean;
  /** Fast shutdown (SIGINT: rolls back open transactions, checkpoints), SIGKILL after 30 s. */
  stop(): Promise<void>;
}

/** The directory holding initdb/postgres: `POSTGRES_BIN_DIR`, else `postgres` on PATH, else Debian's newest. */
export function findPostgresBinDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.POSTGRES_BIN_DIR) {
    if (!isExecutable(path.join(env.POSTGRES_BIN_DIR, 'postgres')))
      throw new Error(`POSTGRES_BIN_DIR=${env.POSTGRES_BIN_DIR} has no postgres executable`);
    return env.POSTGRES_BIN_DIR;
  }
  const onPath = findOnPath('postgres', env);
  if (onPath) {
    const dir = path.dirname(fs.realpathSync(onPath));
    if (isExecutable(path.join(dir, 'initdb'))) return dir;
  }
  const versions = fs.existsSync(DEBIAN_POSTGRES_ROOT)
    ? fs
        .readdirSync(DEBIAN_POSTGRES_ROOT)
        .filter((v) => isExecutable(path.join(DEBIAN_POSTGRES_ROOT, v, 'bin', 'postgres')))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  if (versions.length === 0) {
    throw new Error(
      'no PostgreSQL server found: install one (Debian: apt-get install postgresql), set POSTGRES_BIN_DIR to the ' +
        'directory holding initdb and postgres, or pass --database-url to use an existing server',
    );
  }
  return path.join(DEBIAN_POSTGRES_ROOT, versions[0]!, 'bin');
}

/**
 * PostgreSQL refuses to run as root: when we are root, the server runs as the `postgres` system user (Debian's
 * package creates it), or `JOBS_STACK_POSTGRES_USER`. Undefined: run as ourselves.
 */
function serverUser(): { uid: number; gid: number; name: string } | undefined {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return undefined;
  const name = process.env.JOBS_STACK_POSTGRES_USER || 'postgres';
  try {
    const uid = Number(execFileSync('id', ['-u', name], { encoding: 'utf8' }).trim());
    const gid = Number(execFileSync('id', ['-g', name], { encoding: 'utf8' }).trim());
    return { uid, gid, name };
  } catch {
    throw new Error(
      `PostgreSQL refuses to run as root and there is no "${name}" user to run it as: create one ` +
        `(useradd --system ${name}) or set JOBS_STACK_POSTGRES_USER to an existing non-root user`,
    );
  }
}

/**
 * Starts a PostgreSQL of our own on `dataDir` (initdb on first use, with the `temporal` superuser), listening on
 * 127.0.0.1:`port` only, and waits until it accepts connections.
 */
export async function startLocalPostgres(options: LocalPostgresOptions): Promise<RunningPostgres> {
  const bin = findPostgresBinDir();
  const user = serverUser();
  const dataDir = path.resolve(options.dataDir);
  const asUser = user ? { uid: user.uid, gid: user.gid } : {};
  const childEnv = { ...process.env, ...(user ? { HOME: dataDir, USER: user.name, LOGNAME: user.name } : {}) };
  let initialized = false;
  if (!fs.existsSync(path.join(dataDir, 'PG_VERSION'))) {
    fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    const pwFile = path.join(dataDir, '..', '.postgres-password');
    fs.writeFileSync(pwFile, `${STACK_POSTGRES_PASSWORD}\n`, { mode: 0o600 });
    if (user) {
      fs.chownSync(dataDir, user.uid, user.gid);
      fs.chownSync(pwFile, user.uid, user.gid);
    }
    options.log(`Creating a PostgreSQL cluster in ${dataDir} (${bin})…`);
    try {
      execFileSync(
        path.join(bin, 'initdb'),
        [
          '--pgdata',
          dataDir,
          '--username',
          STACK_POSTGRES_USER,
          '--pwfile',
          pwFile,
          '--auth',
          'scram-sha-256',
          '--encoding',
          'UTF8',
          '--no-locale',
        ],
        { ...asUser, env: childEnv, stdio: ['ignore', 'pipe', 'pipe'], cwd: dataDir },
      );
    } catch (err) {
      const stderr = (err as { stderr?: Buffer }).stderr?.toString() ?? '';
      throw new Error(
        `initdb failed for ${dataDir}${user ? ` (run as user ${user.name}: it needs to reach that directory)` : ''}:\n` +
          stderr,
      );
    } finally {
      fs.rmSync(pwFile, { force: true });
    }
    initialized = true;
  }

  fs.mkdirSync(path.dirname(options.logFile), { recursive: true });
  const out = fs.openSync(options.logFile, 'a');
  const child = spawn(
    path.join(bin, 'postgres'),
    [
      '-D',
      dataDir,
      '-p',
      String(options.port),
      '-c',
      'listen_addresses=127.0.0.1',
      '-c',
      'unix_socket_directories=',
      // The soak kills workers and Temporal services mid-transaction: room for their reconnections.
      '-c',
      'max_connections=300',
    ],
    { ...asUser, env: childEnv, cwd: dataDir, stdio: ['ignore', out, out], detached: true },
  );
  fs.closeSync(out);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const adminUrl = `postgres://${STACK_POSTGRES_USER}:${STACK_POSTGRES_PASSWORD}@127.0.0.1:${options.port}/postgres`;
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGINT');
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    await exited;
    clearTimeout(timer);
  };
  try {
    await waitForPostgres(adminUrl, options.readyTimeoutMs ?? 60_000, child, options.logFile);
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }
  return { adminUrl, process: child, initialized, stop };
}

async function waitForPostgres(url: string, timeoutMs: number, child: ChildProcess, logFile: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(
        `PostgreSQL exited (${child.exitCode ?? child.signalCode}) before it was ready:\n${tail(logFile)}`,
      );
    }
    const client = new Client({ connectionString: url, connectionTimeoutMillis: 1000 });
    try {
      await client.connect();
      await client.query('SELECT 1');
      return;
    } catch (err) {
      lastError = err;
      await new Promise((r) => setTimeout(r, 250));
    } finally {
      await client.end().catch(() => undefined);
    }
  }
  throw new Error(`PostgreSQL not ready after ${timeoutMs} ms: ${String(lastError)}\n${tail(logFile)}`);
}

/** Creates each database that does not exist yet (idempotent); returns the ones it created. */
export async function ensureDatabases(adminUrl: string, names: string[]): Promise<string[]> {
  const client = new Client({ connectionString: adminUrl });
  await client.connect();
  try {
    const created: string[] = [];
    for (const name of names) {
      const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
      if (rowCount) continue;
      await client.query(`CREATE DATABASE "${name.replace(/"/g, '""')}"`);
      created.push(name);
    }
    return created;
  } finally {
    await client.end();
  }
}

/** `url` with another database name. */
export function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}

/** The last lines of a log file, for errors. */
export function tail(file: string, lines = 30): string {
  try {
    return fs.readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n') + `\n(full log: ${file})`;
  } catch {
    return `(no log at ${file})`;
  }
}
