import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { forEachLimited } from '../src/bench/harness';
import { freePort, startDevServer, type DevServer } from '../src/dev-server';
import { JobNotFoundError } from '../src/errors';
import { buildHttpService } from '../src/http/server';
import { noop } from '../workflows';
import { createHarness, eventually, type Harness } from './harness';

/**
 * The server going away must not lose or fail work: its own dev server (SQLite file, as users run it) is stopped and
 * started again twice while 500 jobs run; workers and clients reconnect by themselves.
 */
describe('Temporal server restarts', () => {
  let dir: string;
  let port: number;
  let server: DevServer;
  let env: TestWorkflowEnvironment;
  let h: Harness;
  const start = () => startDevServer({ port, headless: true, dbFilename: path.join(dir, 'temporal.sqlite') });

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'durable-jobs-restart-'));
    port = await freePort();
    server = await start();
    env = await TestWorkflowEnvironment.createFromExistingServer({ address: server.address });
    h = await createHarness({ env });
    await h.startWorkers([{ queue: 'default', concurrency: 10 }]);
  }, 60_000);

  afterAll(async () => {
    await h?.close();
    await env?.teardown();
    await server?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const count = async (status: string) => {
    const { count } = await h.env.client.workflow.count(
      `TaskQueue = '${h.taskQueuePrefix}-default' AND ExecutionStatus = '${status}'`,
    );
    return count;
  };

  it('restarting the server twice during 500 jobs: all complete, none failed', async () => {
    await forEachLimited(500, 25, async (i) => {
      await h.client.enqueue(noop, { id: `restart-${h.taskQueuePrefix}-${i}` });
    });
    const completedBeforeRestarts: number[] = [];
    for (let restart = 0; restart < 2; restart++) {
      await new Promise((r) => setTimeout(r, 2000));
      completedBeforeRestarts.push(await count('Completed'));
      await server.stop();
      await new Promise((r) => setTimeout(r, 1000));
      server = await start();
    }
    await eventually(
      async () => ((await count('Completed').catch(() => 0)) === 500 ? true : undefined),
      150_000,
      '500 completed jobs',
    );
    expect(await count('Failed')).toBe(0);
    expect(await count('Running')).toBe(0);
    expect(h.calls.get('noop')).toBeGreaterThanOrEqual(500);
    expect(completedBeforeRestarts[1]).toBeLessThan(500); // both restarts hit the run in the middle
  }, 240_000);

  it('a server gone after the web process connected: 503 in bounded time, naming the server; nothing enqueued', async () => {
    const http = buildHttpService(h.client);
    const id = `gone-${h.taskQueuePrefix}`;
    const accepted = await http.inject({ method: 'POST', url: '/jobs/noop', payload: { id: `${id}-before` } });
    expect(accepted.statusCode).toBe(202);

    await server.stop();
    const began = Date.now();
    const refused = await http.inject({ method: 'POST', url: '/jobs/noop', payload: { id } });
    const tookMs = Date.now() - began;
    server = await start();

    expect(refused.statusCode).toBe(503);
    expect(refused.json().error).toContain(`Cannot reach the Temporal server at ${server.address}`);
    // The SDK retries "unavailable" until the deadline, so the error cannot tell "refused" from "no answer": it says so.
    expect(refused.json().error).toMatch(
      /noop\/gone-.*: (nothing was enqueued|no answer within 10 s, so it may or may not have started; enqueueing again is safe)/,
    );
    // Bounded by the enqueue deadline (10 s), not by how long gRPC would keep retrying; generous for a busy machine.
    expect(tookMs).toBeLessThan(20_000);
    await expect(h.client.status(`noop/${id}`)).rejects.toThrow(JobNotFoundError);
    await http.close();
  }, 60_000);
});
