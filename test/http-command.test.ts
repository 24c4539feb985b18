import os from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { freePort } from '../src/dev-server';
import { createHarness, eventually, type Harness } from './harness';
import { jobctl, spawnJobctl, type JobctlProcess } from './jobctl';

/**
 * This machine's first IPv4 address that is not loopback: the one another host would reach it at. (The kernel delivers
 * a connection to the machine's own address locally: the fetches below never leave it.)
 */
const outsideAddress = Object.values(os.networkInterfaces())
  .flat()
  .find((a) => a?.family === 'IPv4' && !a.internal)?.address;
const NO_OUTSIDE_ADDRESS = 'this machine has no non-loopback IPv4 address (os.networkInterfaces()) to fetch through';

/** GET /health on `port` through the outside address: "answered <status>", or the connection's error code. */
function healthThroughOutsideAddress(port: number): Promise<string | undefined> {
  return fetch(`http://${outsideAddress}:${port}/health`).then(
    (response) => `answered ${response.status}`,
    (err: Error & { cause?: { code?: string } }) => err.cause?.code ?? err.message,
  );
}

/** `jobctl http` as a user runs it: safe by default, tokens from `jobctl token create`. */
describe('jobctl http', () => {
  let h: Harness;
  let env: Record<string, string>;
  const running: JobctlProcess[] = [];

  beforeAll(async () => {
    h = await createHarness();
    await h.startWorkers(['default']);
    env = {
      TEMPORAL_ADDRESS: inject('temporalAddress'),
      JOBS_TASK_QUEUE_PREFIX: h.taskQueuePrefix,
      JOBS_API_TOKENS: '',
    };
  });
  afterAll(async () => {
    for (const p of running) await p.stop();
    await h?.close();
  });

  async function startHttp(args: string[], extraEnv: Record<string, string> = {}) {
    const port = await freePort();
    const http = spawnJobctl(['http', '--port', String(port), ...args], { ...env, ...extraEnv });
    running.push(http);
    await eventually(
      async () => (http.output().includes('listening on') ? true : undefined),
      30_000,
      `jobctl http to listen:\n${http.output()}`,
    );
    return { http, port, base: `http://127.0.0.1:${port}` };
  }

  it('refuses to serve beyond loopback without tokens: exit 1 and one clear line', async () => {
    const run = await jobctl(['http', '--host', '0.0.0.0', '--port', String(await freePort())], env);
    expect(run.code).toBe(1);
    expect(run.stdout).toBe('');
    expect(run.stderr).toBe(
      'jobctl: refusing to serve the HTTP service on 0.0.0.0 without API tokens: set JOBS_API_TOKENS ' +
        '(`jobctl token create <id>` makes one), listen on 127.0.0.1, or pass --insecure-no-auth\n',
    );
  });

  it('with --insecure-no-auth it serves there, open, and says so at start-up', async () => {
    const { http, base } = await startHttp(['--host', '0.0.0.0', '--insecure-no-auth']);
    expect(http.output()).toContain(
      'jobctl http: WARNING: --insecure-no-auth: the HTTP service on 0.0.0.0 has no authentication',
    );
    expect(http.output()).toContain('NO AUTHENTICATION (--insecure-no-auth)');
    const { invoiceId } = await h.createInvoice();
    const posted = await fetch(`${base}/jobs/invoice-generation`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ invoiceId }),
    });
    expect(posted.status).toBe(202);
  });

  it('on 0.0.0.0 it serves through a non-loopback address of this machine too', async (ctx) => {
    if (!outsideAddress) return ctx.skip(NO_OUTSIDE_ADDRESS);
    const { port } = await startHttp(['--host', '0.0.0.0', '--insecure-no-auth']);
    expect(await healthThroughOutsideAddress(port), `GET /health through ${outsideAddress}`).toBe('answered 200');
    const { invoiceId } = await h.createInvoice();
    const posted = await fetch(`http://${outsideAddress}:${port}/jobs/invoice-generation`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ invoiceId }),
    });
    expect(posted.status, `POST through ${outsideAddress}`).toBe(202);
  });

  it('on 127.0.0.1 (the default) the same address is refused: it serves loopback only', async (ctx) => {
    if (!outsideAddress) return ctx.skip(NO_OUTSIDE_ADDRESS);
    const { port, base } = await startHttp([]);
    expect((await fetch(`${base}/health`)).status).toBe(200);
    expect(await healthThroughOutsideAddress(port), `GET /health through ${outsideAddress}`).toBe('ECONNREFUSED');
  });

  it('serves with a token from `jobctl token create`: without it 401, with it 202, recorded as its id', async () => {
    const created = await jobctl(['token', 'create', 'ci', '--scopes', 'enqueue:invoice-generation', '--json'], env);
    expect(created.code).toBe(0);
    const { token, entry } = JSON.parse(created.stdout) as { token: string; entry: string };
    const { http, base } = await startHttp(['--host', '0.0.0.0'], { JOBS_API_TOKENS: entry });
    expect(http.output()).toContain('API tokens required (ci)');
    expect(http.output()).not.toContain('WARNING');

    const { invoiceId } = await h.createInvoice();
    const post = (headers: Record<string, string>) =>
      fetch(`${base}/jobs/invoice-generation`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: JSON.stringify({ invoiceId }),
      });
    expect((await post({})).status).toBe(401);
    const accepted = await post({ authorization: `Bearer ${token}` });
    expect(accepted.status).toBe(202);
    const { workflowId } = (await accepted.json()) as { workflowId: string };
    const status = JSON.parse((await jobctl(['status', workflowId, '--json'], env)).stdout);
    expect(status.enqueuedBy).toBe('token:ci');
    expect((await jobctl(['status', workflowId], env)).stdout).toMatch(/enqueued by\s+token:ci/);
  });

  it('a bad JOBS_API_TOKENS stops it with one line naming the entry', async () => {
    const run = await jobctl(['http'], { ...env, JOBS_API_TOKENS: 'web:short:read' });
    expect(run.code).toBe(1);
    expect(run.stderr).toBe(
      'jobctl: JOBS_API_TOKENS entry 1 ("web"): the secret must be sha256=<64 hex digits> or at least 24 URL-safe characters\n',
    );
  });
});
