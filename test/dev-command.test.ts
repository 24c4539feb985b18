import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort, startDevServer } from '../src/dev-server';
import { Keyring } from '../src/encryption';
import { FakeVendor } from '../src/testing/fake-vendor';
import { eventually } from './harness';
import { spawnJobctl, type JobctlProcess } from './jobctl';

const listening = (port: number) =>
  new Promise<boolean>((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('error', () => resolve(false));
  });

/**
 * `npm start` is `jobctl dev`: the first thing a user runs. Spawned as a process in its own process group, as a
 * terminal runs it, with encryption on; Ctrl-C goes to the whole group, as a terminal sends it.
 */
describe('jobctl dev (npm start)', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'durable-jobs-dev-'));
  let dev: JobctlProcess | undefined;
  const vendor = new FakeVendor();

  afterAll(async () => {
    if (dev?.child.pid && dev.child.exitCode === null) process.kill(-dev.child.pid, 'SIGKILL');
    await vendor.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('serves jobs over HTTP with encrypted payloads, gives the Web UI the codec endpoint, and stops cleanly on Ctrl-C', async () => {
    const [port, uiPort, httpPort] = [await freePort(), await freePort(), await freePort()];
    const token = randomBytes(24).toString('base64url');
    dev = spawnJobctl(
      [
        'dev',
        '--port',
        String(port),
        '--ui-port',
        String(uiPort),
        '--http-port',
        String(httpPort),
        '--db-filename',
        path.join(dir, 'temporal.sqlite'),
        // What `npm start` prints on a terminal (here stdout is a pipe, which would get JSON lines).
        '--log-format',
        'pretty',
      ],
      {
        JOBS_SQLITE_PATH: path.join(dir, 'app.sqlite'),
        JOBS_MAIL_OUTBOX_DIR: path.join(dir, 'outbox'),
        // Not the fixed demo ports.
        VENDOR_API_URL: await vendor.start(),
        VENDOR_API_TIMEOUT_MS: '10000',
        PAYMENT_GATEWAY_URL: 'http://127.0.0.1:9',
        JOBS_ENCRYPTION_KEYS: Keyring.generate('dev'),
        JOBS_CODEC_TOKEN: token,
      },
      { detached: true }, // its own process group, like a shell job
    );
    const output = dev.output;
    await eventually(
      async () => (output().includes('Ctrl-C stops everything') ? true : undefined),
      90_000,
      `jobctl dev to start:\n${output()}`,
    );
    expect(output()).toContain('encrypted with key "dev"; the Web UI decrypts them through /codec');
    // It synced the declared schedules at start: on a new server, the health check's is created.
    expect(output()).toMatch(/Schedules\s+health-check every 1m \(synced: 1 created; jobctl schedules list\)/);
    // Secure by default: the server, the Web UI and the HTTP service listen on loopback only, as `ss -ltn` shows.
    const sockets = execFileSync('ss', ['-ltnH'], { encoding: 'utf8' })
      .split('\n')
      .map((line) => line.trim().split(/\s+/)[3])
      .filter((local): local is string => local !== undefined);
    for (const p of [port, uiPort, httpPort]) {
      const bound = sockets.filter((local) => local.endsWith(`:${p}`));
      expect(bound, `listening sockets of port ${p}`).toEqual([`127.0.0.1:${p}`]);
    }
    expect(output()).toContain(
      `http://127.0.0.1:${httpPort} (POST /jobs/<name>, GET /jobs/<workflowId>); no API tokens`,
    );

    const http = `http://127.0.0.1:${httpPort}`;
    const posted = await fetch(`${http}/jobs/invoice-generation`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"invoiceId":1}',
    });
    expect(posted.status).toBe(202);
    const { statusUrl } = (await posted.json()) as { statusUrl: string };
    const done = await eventually(
      async () => {
        const status = (await (await fetch(`${http}${statusUrl}`)).json()) as {
          status: string;
          result?: { invoiceId: number };
        };
        return status.status === 'Completed' ? status : undefined;
      },
      30_000,
      'the seeded invoice to be generated',
    );
    expect(done.result).toMatchObject({ invoiceId: 1 });

    const settings = (await (await fetch(`http://127.0.0.1:${uiPort}/api/v1/settings`)).json()) as {
      Codec: { Endpoint: string };
    };
    expect(settings.Codec.Endpoint).toBe(`http://localhost:${httpPort}/codec/${token}`);

    // Ctrl-C while a webhook's vendor call (3 s) is in flight: the worker finishes it and reports it to the server.
    vendor.script('webhook-payload/1', [{ kind: 'timeout', delayMs: 3000 }]);
    const webhook = await fetch(`${http}/jobs/process-webhook`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"webhookPayloadId":1}',
    });
    expect(webhook.status).toBe(202);
    await eventually(
      async () => (vendor.requests.get('webhook-payload/1') ? true : undefined),
      30_000,
      'the vendor call to start',
    );
    process.kill(-dev.child.pid!, 'SIGINT');
    expect(await dev.exited).toBe(0);
    // One short line per job event, no JSON.
    expect(output()).toMatch(/INFO.*✓ succeeded\s+invoice-generation\s+invoice-generation\/1\s+\d+(\.\d)? m?s\n/);
    expect(output()).toMatch(/INFO.*↳ succeeded\s+processWebhook\s+process-webhook\/1\s+\d+(\.\d)? m?s\n/);
    expect(output()).not.toMatch(/"event":/);
    expect(await listening(port)).toBe(false); // the Temporal server stopped too
    expect(await listening(httpPort)).toBe(false);

    // The worker drained before the server went away: the server recorded the activity's result from its first
    // attempt. Read from the server's own SQLite file, on a server started again on it.
    const again = await startDevServer({ port: 0, headless: true, dbFilename: path.join(dir, 'temporal.sqlite') });
    const connection = await Connection.connect({ address: again.address });
    try {
      const history = await new Client({ connection }).workflow.getHandle('process-webhook/1').fetchHistory();
      const events = history.events ?? [];
      expect(events.filter((e) => e.activityTaskCompletedEventAttributes)).toHaveLength(1);
      expect(
        events
          .filter((e) => e.activityTaskStartedEventAttributes)
          .map((e) => e.activityTaskStartedEventAttributes!.attempt),
      ).toEqual([1]);
    } finally {
      await connection.close();
      await again.stop();
    }
  }, 150_000);
});
