import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { findOnPath, isExecutable } from '../temporal-cli';

/**
 * The Temporal server `jobctl stack` runs: the newest patch release that builds from the Go module proxy and passes
 * `npm run test:stack` and `test:production`. Newer than the server the pinned Temporal CLI (v1.5.1,
 * src/temporal-cli.ts) embeds for the dev server (1.29.1); docker-compose.yml runs the same release as this one.
 * Pinned here and nowhere else. Its module carries the server (`cmd/server`), `temporal-sql-tool` (`cmd/tools/sql`)
 * and the SQL schemas, which the tool embeds.
 */
export const TEMPORAL_SERVER_VERSION = 'v1.32.2';
export const TEMPORAL_SERVER_MODULE = 'go.temporal.io/server';

/** The two executables the stack needs, with where each comes from (env var, PATH, cache). */
export const STACK_BINARIES = {
  server: { name: 'temporal-server', env: 'TEMPORAL_SERVER_PATH', pkg: 'cmd/server', goName: 'server' },
  sqlTool: { name: 'temporal-sql-tool', env: 'TEMPORAL_SQL_TOOL_PATH', pkg: 'cmd/tools/sql', goName: 'sql' },
} as const;

export type StackBinary = keyof typeof STACK_BINARIES;
export type BinarySource = 'env' | 'PATH' | 'cache' | 'go-build';

export interface ResolvedBinaries {
  server: { path: string; source: BinarySource };
  sqlTool: { path: string; source: BinarySource };
}

/** Per-user cache shared by every checkout (beside the Temporal CLI's), so a fresh clone reuses one build. */
export function temporalServerCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  const base =
    env.DURABLE_JOBS_CACHE_DIR || path.join(env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache'), 'durable-jobs');
  return path.join(base, 'temporal-server', TEMPORAL_SERVER_VERSION);
}

/**
 * Finds `temporal-server` and `temporal-sql-tool`, each in order: its env var (`TEMPORAL_SERVER_PATH`,
 * `TEMPORAL_SQL_TOOL_PATH`); the name on PATH; the per-user cache; else one `go install` of both into the cache
 * (a first build takes minutes; a progress line every 15 s). Throws a clear error when none is possible.
 */
export async function resolveStackBinaries(
  options: { log?: (line: string) => void; env?: NodeJS.ProcessEnv } = {},
): Promise<ResolvedBinaries> {
  const env = options.env ?? process.env;
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const cacheDir = temporalServerCacheDir(env);
  const found: Partial<Record<StackBinary, { path: string; source: BinarySource }>> = {};
  const missing: StackBinary[] = [];
  for (const key of Object.keys(STACK_BINARIES) as StackBinary[]) {
    const binary = STACK_BINARIES[key];
    const fromEnv = env[binary.env];
    if (fromEnv) {
      if (!isExecutable(fromEnv)) throw new Error(`${binary.env}=${fromEnv} is not an executable file`);
      found[key] = { path: fromEnv, source: 'env' };
      continue;
    }
    const onPath = findOnPath(binary.name, env);
    if (onPath) {
      found[key] = { path: onPath, source: 'PATH' };
      continue;
    }
    const cached = path.join(cacheDir, binary.name);
    if (isExecutable(cached)) found[key] = { path: cached, source: 'cache' };
    else missing.push(key);
  }
  if (missing.length > 0) {
    if (!findOnPath('go', env)) {
      throw new Error(
        `no ${missing.map((k) => STACK_BINARIES[k].name).join(' or ')} found and no Go to build ` +
          `${TEMPORAL_SERVER_MODULE}@${TEMPORAL_SERVER_VERSION}: install Go (https://go.dev/dl), or set ` +
          `${missing.map((k) => STACK_BINARIES[k].env).join(' / ')} to the executable`,
      );
    }
    await goInstall(cacheDir, missing, log);
    for (const key of missing) found[key] = { path: path.join(cacheDir, STACK_BINARIES[key].name), source: 'go-build' };
  }
  return found as ResolvedBinaries;
}

/**
 * `go install` of the missing binaries into a private directory, then an atomic rename of each into the cache under
 * its release name, so two processes building at once never see half a binary.
 */
async function goInstall(cacheDir: string, keys: StackBinary[], log: (line: string) => void): Promise<void> {
  fs.mkdirSync(cacheDir, { recursive: true });
  const staging = fs.mkdtempSync(path.join(cacheDir, '.build-'));
  const started = Date.now();
  const packages = keys.map((k) => `${TEMPORAL_SERVER_MODULE}/${STACK_BINARIES[k].pkg}@${TEMPORAL_SERVER_VERSION}`);
  log(
    `Building ${keys.map((k) => STACK_BINARIES[k].name).join(' and ')} ${TEMPORAL_SERVER_VERSION} with Go into ${cacheDir}.`,
  );
  log('This happens once per machine and takes a few minutes (less when the Temporal CLI was built here before).');
  const elapsedSeconds = () => Math.round((Date.now() - started) / 1000);
  const ticker = setInterval(() => log(`  … still building (${elapsedSeconds()} s)`), 15_000);
  try {
    await new Promise<void>((resolve, reject) => {
      const child = spawn('go', ['install', ...packages], {
        env: {
          ...process.env,
          GOBIN: staging,
          GOFLAGS: process.env.GOFLAGS ?? '-mod=mod',
          // The release's go.mod asks for a newer Go patch (1.26.10) than many installs have: `local+auto` builds with
          // the Go at hand when it is new enough, else fetches that toolchain once from the module proxy, even
          // where the Go installation says `local`. An exported GOTOOLCHAIN still wins.
          GOTOOLCHAIN: process.env.GOTOOLCHAIN ?? 'local+auto',
        },
        stdio: ['ignore', 'inherit', 'pipe'],
      });
      let lastLines = '';
      child.stderr.on('data', (chunk: Buffer) => {
        const text = chunk.toString();
        lastLines = (lastLines + text).slice(-4000);
        for (const line of text.split('\n')) if (line.trim()) log(`  ${line.trim()}`);
      });
      child.on('error', reject);
      child.on('exit', (code) =>
        code === 0
          ? resolve()
          : reject(new Error(`go install ${packages.join(' ')} failed (exit ${code}):\n${lastLines}`)),
      );
    });
    for (const key of keys) {
      fs.renameSync(path.join(staging, STACK_BINARIES[key].goName), path.join(cacheDir, STACK_BINARIES[key].name));
    }
    log(`Built in ${elapsedSeconds()} s: ${cacheDir}`);
  } finally {
    clearInterval(ticker);
    fs.rmSync(staging, { recursive: true, force: true });
  }
}
