import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

export interface ManagedProcessOptions {
  /** Name in messages: `frontend`, `worker-1`, … */
  name: string;
  command: string;
  args: string[];
  /** Receives stdout and stderr (appended across restarts). */
  logFile: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Signal of a graceful stop. @default 'SIGTERM' */
  stopSignal?: NodeJS.Signals;
  /** SIGKILL after this long. @default 30 s */
  stopTimeoutMs?: number;
  /** Called when the process exits without `stop()` (a crash, or a kill from outside). */
  onUnexpectedExit?: (name: string, code: number | null, signal: NodeJS.Signals | null) => void;
  /** Called with each line it prints, e.g. to spot a readiness line. */
  onLine?: (line: string) => void;
}

/**
 * A child process of the stack: in its own process group (a Ctrl-C in the terminal reaches only `jobctl stack`, which
 * then stops everything in order), its output in a log file, not the terminal.
 */
export class ManagedProcess {
  child?: ChildProcess;
  private exited?: Promise<void>;
  private stopping = false;

  constructor(readonly options: ManagedProcessOptions) {}

  get name(): string {
    return this.options.name;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  get running(): boolean {
    return Boolean(this.child && this.child.exitCode === null && this.child.signalCode === null);
  }

  start(): void {
    const o = this.options;
    fs.mkdirSync(path.dirname(o.logFile), { recursive: true });
    const log = fs.createWriteStream(o.logFile, { flags: 'a' });
    this.stopping = false;
    const child = spawn(o.command, o.args, {
      env: o.env ?? process.env,
      cwd: o.cwd,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    this.child = child;
    let partial = '';
    const onData = (chunk: Buffer) => {
      log.write(chunk);
      if (!o.onLine) return;
      const lines = (partial + chunk.toString()).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) o.onLine(line);
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    this.exited = new Promise((resolve) =>
      child.once('close', (code, signal) => {
        log.end();
        if (!this.stopping) o.onUnexpectedExit?.(o.name, code, signal);
        resolve();
      }),
    );
    child.once('error', (err) => log.write(`jobctl stack: could not start ${o.command}: ${err.message}\n`));
  }

  /** Graceful stop (its stop signal), SIGKILL after the timeout; resolves once it has exited. */
  async stop(): Promise<void> {
    this.stopping = true;
    const child = this.child;
    if (!child || !this.running) return this.exited;
    child.kill(this.options.stopSignal ?? 'SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), this.options.stopTimeoutMs ?? 30_000);
    await this.exited;
    clearTimeout(timer);
  }

  /** SIGKILL now (a crash, as the soak causes), without a graceful stop. */
  async kill(): Promise<void> {
    this.stopping = true;
    if (this.running) this.child!.kill('SIGKILL');
    await this.exited;
  }

  /** Kills the process without waiting: for `process.on('exit')`, where nothing can be awaited. */
  killNow(): void {
    this.stopping = true;
    if (this.running) this.child!.kill('SIGKILL');
  }

  /** Resolves when the process has exited (immediately when it never started). */
  whenExited(): Promise<void> {
    return this.exited ?? Promise.resolve();
  }
}
