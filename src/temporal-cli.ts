import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/**
 * The Temporal CLI embeds the dev server (with SQLite persistence) and the Web UI. This version is pinned here and
 * nowhere else: v1.5.1 is the newest tag whose go.mod has no replace directive, so `go install` can build it.
 */
export const TEMPORAL_CLI_VERSION = 'v1.5.1';
export const TEMPORAL_CLI_MODULE = 'github.com/temporalio/cli/cmd/temporal';

export type TemporalCliSource = 'TEMPORAL_CLI_PATH' | 'PATH' | 'cache' | 'go-build';

export interface ResolvedTemporalCli {
  path: string;
  source: TemporalCliSource;
}

/** Per-user cache shared by every checkout, so fresh clones reuse one build. */
export function temporalCliCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  const base =
    env.DURABLE_JOBS_CACHE_DIR || path.join(env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache'), 'durable-jobs');
  return path.join(base, 'temporal-cli', TEMPORAL_CLI_VERSION);
}

/**
 * Finds a Temporal CLI binary, in order: `TEMPORAL_CLI_PATH`; `temporal` on PATH; the per-user cache; a Go build into
 * that cache. Returns undefined when none is possible (no Go): callers then fall back to the SDK's own download.
 */
export async function resolveTemporalCli(
  options: { build?: boolean; log?: (line: string) => void } = {},
): Promise<ResolvedTemporalCli | undefined> {
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const fromEnv = process.env.TEMPORAL_CLI_PATH;
  if (fromEnv) {
    if (!isExecutable(fromEnv)) throw new Error(`TEMPORAL_CLI_PATH=${fromEnv} is not an executable file`);
    return { path: fromEnv, source: 'TEMPORAL_CLI_PATH' };
  }
  const onPath = findOnPath('temporal');
  if (onPath) return { path: onPath, source: 'PATH' };
  const cached = path.join(temporalCliCacheDir(), 'temporal');
  if (isExecutable(cached)) return { path: cached, source: 'cache' };
  if (options.build === false || !findOnPath('go')) return undefined;
  await buildWithGo(cached, log);
  return { path: cached, source: 'go-build' };
}

/**
 * `go install` into a private directory, then an atomic rename into the cache, so two processes building at once
 * never see half a binary. Prints a line every 15 s: a first build takes several minutes.
 */
async function buildWithGo(target: string, log: (line: string) => void): Promise<void> {
  const dir = path.dirname(target);
  fs.mkdirSync(dir, { recursive: true });
  const staging = fs.mkdtempSync(path.join(dir, '.build-'));
  const started = Date.now();
  log(`Building the Temporal CLI ${TEMPORAL_CLI_VERSION} with Go into ${dir}.`);
  log('This happens once per machine and takes several minutes (it compiles the Temporal server and Web UI).');
  const elapsedSeconds = () => Math.round((Date.now() - started) / 1000);
  const ticker = setInterval(() => log(`  … still building (${elapsedSeconds()} s)`), 15_000);
  try {
    await new Promise<void>((resolve, reject) => {
      const child = spawn('go', ['install', `${TEMPORAL_CLI_MODULE}@${TEMPORAL_CLI_VERSION}`], {
        env: { ...process.env, GOBIN: staging, GOFLAGS: process.env.GOFLAGS ?? '-mod=mod' },
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
        code === 0 ? resolve() : reject(new Error(`go install failed (exit ${code}):\n${lastLines}`)),
      );
    });
    fs.renameSync(path.join(staging, 'temporal'), target);
    log(`Temporal CLI built in ${Math.round((Date.now() - started) / 1000)} s: ${target}`);
  } finally {
    clearInterval(ticker);
    fs.rmSync(staging, { recursive: true, force: true });
  }
}

/** The executable `command` resolves to on `env.PATH`, as a shell would find it; undefined when there is none. */
export function findOnPath(command: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  for (const dir of (env.PATH ?? '').split(path.delimiter)) {
    const candidate = path.join(dir, command);
    if (dir && isExecutable(candidate)) return candidate;
  }
  return undefined;
}

export function isExecutable(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}
