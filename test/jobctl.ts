import { execFile } from 'node:child_process';
import path from 'node:path';

const JOBCTL = path.resolve(__dirname, '../bin/jobctl.js');

export interface JobctlRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs jobctl as a user would: a separate process, configured only by its environment. */
export function jobctl(args: string[], env: Record<string, string>): Promise<JobctlRun> {
  return new Promise((resolve) => {
    execFile(process.execPath, [JOBCTL, ...args], { env: { ...process.env, ...env }, timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}
