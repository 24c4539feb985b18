import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { MAX_STACK_PORT, servicePorts } from '../../src/stack/server-config';
import type { JobctlProcess } from '../jobctl';

/** The pids `jobctl stack` recorded in its data directory (none once it stopped). */
export function readPids(dataDir: string): Record<string, number> {
  try {
    return JSON.parse(fs.readFileSync(path.join(dataDir, 'pids.json'), 'utf8')) as Record<string, number>;
  } catch {
    return {};
  }
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Kills whatever a failed test left of a stack, by the pids it recorded. */
export function killStack(dataDir: string): void {
  for (const pid of Object.values(readPids(dataDir))) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
}

function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host: '127.0.0.1' });
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('error', () => resolve(false));
  });
}

/** A frontend port with every port of the four services (and the HTTP port) free, and a PostgreSQL port. */
export async function freeStackPorts(): Promise<{ port: number; postgresPort: number }> {
  for (let attempt = 0; attempt < 50; attempt++) {
    // Temporal's PostgreSQL schema stores membership ports (300 below each service's) as smallint: at most 32767.
    const port = 20_000 + Math.floor(Math.random() * (MAX_STACK_PORT - 20_000));
    const all = Object.values(servicePorts(port)).flatMap((p) => [p.grpc, p.membership, ...(p.http ? [p.http] : [])]);
    const postgresPort = port + 20;
    const busy = await Promise.all([...all, postgresPort].map(listening));
    if (!busy.some(Boolean)) return { port, postgresPort };
  }
  throw new Error('no free port block found');
}

/** Waits until a jobctl process printed `text`; throws with its output if it exited or the time ran out. */
export async function waitForOutput(proc: JobctlProcess, text: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!proc.output().includes(text)) {
    if (proc.child.exitCode !== null) throw new Error(`jobctl exited (${proc.child.exitCode}):\n${proc.output()}`);
    if (Date.now() > deadline) throw new Error(`no "${text}" after ${timeoutMs} ms:\n${proc.output()}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}
