import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildHttpService, MAX_BODY_DEPTH, type HttpServiceOptions } from '../src/http/server';
import { createApiToken, parseApiTokens } from '../src/http/tokens';
import { taskQueueName } from '../src/sandbox/queues';
import { healthCheck } from './jobs';
import { capturedLogLines, createHarness, eventually, type Harness } from './harness';

/**
 * The HTTP service with API tokens, against the real service and server: who may enqueue what, who may read, and
 * the record of who enqueued each job.
 */
describe('HTTP service with API tokens', () => {
  let h: Harness;
  const { logger, lines } = capturedLogLines();
  const services: FastifyInstance[] = [];
  const web = createApiToken('web', 'enqueue:invoice-generation+read'); // stored as its hash
  const reporterSecret = `reporter-${randomUUID()}`; // stored as the plain secret
  const admin = createApiToken('admin', '*');
  const tokens = parseApiTokens(`${web.entry},\nreporter:${reporterSecret}:read, ${admin.entry}`);

  async function serve(options: HttpServiceOptions = {}) {
    const app = buildHttpService(h.client, { tokens, ...options });
    services.push(app);
    await app.listen({ port: 0, host: '127.0.0.1' });
    const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
    return {
      post: (path: string, body: string, token?: string) =>
        fetch(`${base}${path}`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
          body,
        }),
      get: (path: string, token?: string) =>
        fetch(`${base}${path}`, { headers: token ? { authorization: `Bearer ${token}` } : {} }),
    };
  }
  let http: Awaited<ReturnType<typeof serve>>;

  beforeAll(async () => {
    h = await createHarness({ logger });
    await h.startWorkers(['high', 'default']);
    http = await serve();
  });
  afterAll(async () => {
    for (const app of services) await app.close();
    await h?.close();
  });

  it('refuses a request without a valid token with 401, and starts nothing', async () => {
    const { invoiceId } = await h.createInvoice();
    const body = JSON.stringify({ invoiceId });
    for (const token of [undefined, 'djt_not-a-token', web.entry, `${web.token}x`]) {
      const response = await http.post('/jobs/invoice-generation', body, token);
      expect(response.status, `token ${token}`).toBe(401);
      expect(response.headers.get('www-authenticate')).toBe('Bearer realm="jobs"');
      expect(((await response.json()) as { error: string }).error).toMatch(
        token === undefined ? /missing API token: send "Authorization: Bearer <token>"/ : /^unknown API token$/,
      );
    }
    expect((await http.get(`/jobs/invoice-generation%2F${invoiceId}`)).status).toBe(401);
    await expect(h.client.status(`invoice-generation/${invoiceId}`)).rejects.toThrow(/No job run/);
  });

  it('refuses a token outside its scopes with 403 naming the scope it lacks', async () => {
    const { invoiceId } = await h.createInvoice();
    const refused = await http.post('/jobs/invoice-generation', JSON.stringify({ invoiceId }), reporterSecret);
    expect(refused.status).toBe(403);
    expect(await refused.json()).toEqual({
      error: 'API token "reporter" lacks the scope enqueue:invoice-generation',
      token: 'reporter',
      needs: 'enqueue:invoice-generation',
      scopes: ['read'],
    });
    // web may enqueue invoices only.
    const other = await http.post('/jobs/send-welcome-email', JSON.stringify({ userId: h.unusedId() }), web.token);
    expect(other.status).toBe(403);
    expect(((await other.json()) as { needs: string }).needs).toBe('enqueue:send-welcome-email');
    await expect(h.client.status(`invoice-generation/${invoiceId}`)).rejects.toThrow(/No job run/);
  });

  it('enqueues with a token in scope (202) and records its id on the run and in the job_started line', async () => {
    const { invoiceId } = await h.createInvoice();
    const response = await http.post('/jobs/invoice-generation', JSON.stringify({ invoiceId }), web.token);
    expect(response.status).toBe(202);
    const { workflowId, statusUrl } = (await response.json()) as { workflowId: string; statusUrl: string };
    expect(workflowId).toBe(`invoice-generation/${invoiceId}`);

    // On the run: its memo, as the Web UI and `temporal workflow describe` show it.
    const described = await h.env.client.workflow.getHandle(workflowId).describe();
    expect(described.memo).toEqual({ enqueuedBy: 'token:web' });
    // In the job's start line, written by the worker.
    const started = await eventually(async () =>
      lines.find((l) => l.workflowId === workflowId && l.event === 'job_started'),
    );
    expect(started).toMatchObject({ job: 'invoice-generation', enqueued_by: 'token:web' });

    // Read with a read-scoped token; the status says who enqueued it.
    const status = await eventually(async () => {
      const s = (await (await http.get(statusUrl, reporterSecret)).json()) as Record<string, unknown>;
      return s.status === 'Completed' ? s : undefined;
    });
    expect(status).toMatchObject({ enqueuedBy: 'token:web', result: { invoiceId, alreadyGenerated: false } });
    // A token without "read" may not.
    const writer = createApiToken('writer', 'enqueue:*');
    const writeOnly = await serve({ tokens: parseApiTokens(writer.entry) });
    const readRefused = await writeOnly.get(statusUrl, writer.token);
    expect(readRefused.status).toBe(403);
    expect(((await readRefused.json()) as { needs: string }).needs).toBe('read');
  });

  it('keeps internal jobs internal: 404 over HTTP, even for a token with every scope, as if they did not exist', async () => {
    for (const name of ['health-check', 'noop']) {
      const response = await http.post(`/jobs/${name}`, '{"windowMinutes":15}', admin.token);
      expect(response.status, name).toBe(404);
      const body = (await response.json()) as { error: string; knownJobs: string[] };
      expect(body.error).toBe(`Unknown job "${name}"`);
      expect(body.knownJobs).toContain('invoice-generation');
      expect(body.knownJobs).not.toContain('health-check');
      expect(body.knownJobs).not.toContain('noop');
    }
    // Its runs are not readable there either; the client API still starts it.
    const handle = await h.env.client.workflow.start(healthCheck.workflowType, {
      taskQueue: taskQueueName(h.taskQueuePrefix, healthCheck.queue),
      workflowId: `health-check/${randomUUID()}`,
      args: [{ windowMinutes: 15 }],
    });
    const read = await http.get(`/jobs/${encodeURIComponent(handle.workflowId)}`, admin.token);
    expect(read.status).toBe(404);
    await handle.result();
    // A scope naming an internal job is a configuration error, not a silent no-op.
    expect(() => parseApiTokens(`ops:${randomUUID()}:enqueue:health-check`)).toThrow(
      /job "health-check" is internal: it cannot be enqueued over HTTP/,
    );
  });

  it('answers 400 naming the limit for a body nested deeper than it, and 413 for one over the size limit', async () => {
    const deep = await http.post('/jobs/invoice-generation', '['.repeat(100_000) + ']'.repeat(100_000), web.token);
    expect(deep.status).toBe(400);
    expect(((await deep.json()) as { error: string }).error).toBe(
      `JSON body nests deeper than ${MAX_BODY_DEPTH} levels, the limit`,
    );
    const big = await http.post('/jobs/invoice-generation', JSON.stringify({ pad: 'x'.repeat(1_100_000) }), web.token);
    expect(big.status).toBe(413);
    expect(((await big.json()) as { error: string }).error).toBe('request body is over the 1048576-byte limit');
  });

  it('limits requests per token: over the limit is a 429 with Retry-After; another token is not affected', async () => {
    const limited = await serve({ rateLimit: { max: 3, windowMs: 60_000 } });
    const path = `/jobs/invoice-generation%2F${h.unusedId()}`;
    const statuses = [];
    for (let i = 0; i < 4; i++) statuses.push((await limited.get(path, reporterSecret)).status);
    expect(statuses).toEqual([404, 404, 404, 429]);
    const refused = await limited.get(path, reporterSecret);
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(((await refused.json()) as { error: string }).error).toMatch(
      /^over the rate limit of 3 requests a minute for API token "reporter"; retry in \d+ (seconds?|minutes?)$/,
    );
    expect((await limited.get(path, admin.token)).status).toBe(404);
  });
});
