import { execFile, spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '..');

/**
 * Node's arguments that run jobctl from a project's TypeScript sources through tsx, as `npm run jobctl` does: tests
 * need no build (bin/jobctl.js runs the compiled one, dist/). `root`: another copy of the project.
 */
export function jobctlNodeArgs(root = ROOT): string[] {
  return ['--require', require.resolve('tsx/cjs'), path.join(root, 'src/cli/jobctl.ts')];
}

/** Runs a command in `cwd` with this process's environment plus `env`; resolves with its exit code and output. */
export function runCommand(
  cmd: string,
  args: string[],
  cwd: string,
  env: NodeJS.ProcessEnv = {},
  timeoutMs = 180_000,
): Promise<JobctlRun> {
  return new Promise((resolve) => {
    execFile(cmd, args, { cwd, env: { ...process.env, ...env }, timeout: timeoutMs }, (err, stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

export interface JobctlRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs jobctl as a user would: a separate process, configured only by its environment. */
export function jobctl(args: string[], env: Record<string, string>): Promise<JobctlRun> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [...jobctlNodeArgs(), ...args],
      { env: { ...process.env, ...env }, timeout: 60_000 },
      (err, stdout, stderr) => {
        resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
      },
    );
  });
}

/** A long-running jobctl process (worker, dev) the test starts and stops by signal. */
export interface JobctlProcess {
  child: ChildProcess;
  /** Its stdout and stderr so far, interleaved. */
  output(): string;
  /** Its exit code (null when a signal ended it). */
  exited: Promise<number | null>;
  /** Sends `signal` unless it already exited, and waits for the exit. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/**
 * Spawns jobctl with the environment plus `env`; `detached` gives it its own process group, as a shell job has;
 * `root` runs the jobctl of another copy of the project.
 */
export function spawnJobctl(
  args: string[],
  env: NodeJS.ProcessEnv,
  options: { detached?: boolean; root?: string } = {},
): JobctlProcess {
  const child = spawn(process.execPath, [...jobctlNodeArgs(options.root), ...args], {
    cwd: options.root, // another copy runs in its folder, as its own tsconfig.json (for tsx) is found from there
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: options.detached ?? false,
  });
  let output = '';
  child.stdout!.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (output += c.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    child,
    output: () => output,
    exited,
    stop(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}

/**
 * `jobctl worker --queues <queues> [args]` (of another copy of the project at `root`), once it says it is serving; fails
 * with its output if it exits before.
 */
export async function startJobctlWorker(
  queues: string,
  env: NodeJS.ProcessEnv,
  root = ROOT,
  args: string[] = [],
): Promise<JobctlProcess> {
  const worker = spawnJobctl(['worker', '--queues', queues, ...args], env, { root });
  const deadline = Date.now() + 60_000;
  while (!worker.output().includes('serving')) {
    if (worker.child.exitCode !== null) throw new Error(`jobctl worker exited before serving:\n${worker.output()}`);
    if (Date.now() > deadline) throw new Error(`jobctl worker not serving after 60 s:\n${worker.output()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return worker;
}
