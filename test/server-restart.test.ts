import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { WorkflowFailedError } from '@temporalio/client';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { forEachLimited } from '../bench/harness';
import { freePort, startDevServer, type DevServer } from '../src/dev-server';
import { JobNotFoundError } from '../src/sandbox/errors';
import { buildHttpService } from '../src/http/server';
import { noop } from './jobs';
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
  }, 60_000);

  afterAll(async () => {
    await h?.close();
    await env?.teardown();
    await server?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('restarting the server twice during 500 jobs: all complete, none failed', async () => {
    const ids = Array.from({ length: 500 }, (_, i) => `restart-${h.taskQueuePrefix}-${i}`);
    // The whole backlog first, workers after: how far the run is at each restart does not depend on enqueue speed.
    await forEachLimited(ids.length, 25, async (i) => {
      await h.client.enqueue(noop, { id: ids[i]! });
    });
    await h.startWorkers([{ queue: 'default', concurrency: 10 }]);

    // Each job's result, read from the server (not from visibility); asked again whenever the server is away.
    const completed = new Set<string>();
    const failed: string[] = [];
    const watching = forEachLimited(ids.length, 25, async (i) => {
      const handle = h.env.client.workflow.getHandle(`noop/${ids[i]}`);
      for (;;) {
        try {
          await handle.result();
          completed.add(ids[i]!);
          return;
        } catch (err) {
          if (err instanceof WorkflowFailedError) return void failed.push(ids[i]!);
          await new Promise((r) => setTimeout(r, 200)); // the server is restarting: ask again
        }
      }
    });

    // Restart once 25 more jobs are seen completed, so each restart falls in the middle of the run by observation.
    const atRestart: Array<{ completed: number; activitiesRun: number }> = [];
    for (let restart = 0; restart < 2; restart++) {
      const before = completed.size;
      await eventually(
        async () => (completed.size >= before + 25 ? true : undefined),
        60_000,
        '25 more completed jobs',
      );
      // Completed results seen so far (a lower bound) and noop activities run, which every completed job needed (an
      // upper bound on completed jobs: this is the only worker).
      atRestart.push({ completed: completed.size, activitiesRun: h.calls.get('noop') ?? 0 });
      await server.stop();
      await new Promise((r) => setTimeout(r, 1000)); // the outage itself: a second with no server
      server = await start();
    }
    await watching;

    expect(failed).toEqual([]);
    expect(completed.size).toBe(500);
    expect(h.calls.get('noop')).toBeGreaterThanOrEqual(500);
    // Both restarts hit the run in the middle: some jobs had completed, and not all of them could have.
    for (const reading of atRestart) {
      expect(reading.completed).toBeGreaterThan(0);
      expect(reading.activitiesRun).toBeLessThan(500);
    }
    expect(atRestart[1]!.completed).toBeGreaterThan(atRestart[0]!.completed); // the run went on between them
  }, 240_000);

  it('a server gone after the web process connected: 503 in bounded time, naming the server; nothing enqueued', async () => {
    const http = buildHttpService(h.client);
    // send-welcome-email: an application job (noop is internal, not enqueueable over HTTP). Users that do not exist:
    // the accepted run fails at its activity, which does not matter here.
    const [before, userId] = [h.unusedId(), h.unusedId()];
    const accepted = await http.inject({
      method: 'POST',
      url: '/jobs/send-welcome-email',
      payload: { userId: before },
    });
    expect(accepted.statusCode).toBe(202);

    await server.stop();
    const began = Date.now();
    const refused = await http.inject({ method: 'POST', url: '/jobs/send-welcome-email', payload: { userId } });
    const tookMs = Date.now() - began;
    server = await start();

    expect(refused.statusCode).toBe(503);
    expect(refused.json().error).toContain(`Cannot reach the Temporal server at ${server.address}`);
    // The SDK retries "unavailable" until the deadline, so the error cannot tell "refused" from "no answer": it says so.
    expect(refused.json().error).toContain(`send-welcome-email/${userId}: `);
    expect(refused.json().error).toMatch(
      /: (nothing was enqueued|no answer within 10 s, so it may or may not have started; enqueueing again is safe)/,
    );
    // Bounded by the enqueue deadline (10 s), not by how long gRPC would keep retrying; generous for a busy machine.
    expect(tookMs).toBeLessThan(20_000);
    await expect(h.client.status(`send-welcome-email/${userId}`)).rejects.toThrow(JobNotFoundError);
    await http.close();
  }, 60_000);
});
