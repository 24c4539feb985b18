import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { Client } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { JobClient } from '../src/client/client';
import { dataConverterFor, ENCRYPTED_ENCODING, EncryptionCodec, Keyring, KEY_ID_METADATA } from '../src/encryption';
import { buildHttpService } from '../src/http/server';
import { healthCheck, invoiceGeneration } from './jobs';
import { scheduleIdFor, syncSchedules } from '../src/client/schedules';
import { createHarness, type Harness } from './harness';
import { jobctl } from './jobctl';

type RawPayload = temporal.api.common.v1.IPayload;
const text = (bytes: Uint8Array | null | undefined) => Buffer.from(bytes ?? []).toString('utf8');
const UI_ORIGIN = 'http://localhost:8233';

/**
 * Every payload anywhere in a history (inputs, results, heartbeat details, memo, a local activity's result…) except
 * the SDK core's own bookkeeping, which holds no user data and never passes through the data converter: a patch
 * marker's `patch-data` (the patch ID), a local activity marker's `data` (sequence, attempt, activity type, times) and
 * search attributes (indexed by the server, so never encoded; `TemporalChangeVersion` lists patch IDs).
 */
function payloadsIn(value: unknown, found: RawPayload[] = []): RawPayload[] {
  if (Array.isArray(value)) value.forEach((v) => payloadsIn(v, found));
  else if (value && typeof value === 'object' && !(value instanceof Uint8Array)) {
    if ('data' in value && 'metadata' in value) found.push(value as RawPayload);
    else
      Object.entries(value)
        .filter(([key]) => !CORE_BOOKKEEPING.has(key))
        .forEach(([, v]) => payloadsIn(v, found));
  }
  return found;
}
const CORE_BOOKKEEPING = new Set(['patch-data', 'data', 'searchAttributes']);

/**
 * Payload encryption end to end on the real dev server: what the server stores, read with the raw gRPC API (no codec),
 * is ciphertext; the codec endpoint the Web UI uses turns it back into the job's arguments — for a bearer token only.
 */
describe('payload encryption', () => {
  const k1 = Keyring.generate('k1');
  const k2 = Keyring.generate('k2');
  const token = randomBytes(24).toString('base64url');
  let h: Harness;
  let http: FastifyInstance;

  beforeAll(async () => {
    // The workers already rotated to k2 and still hold k1; the harness's client encrypts with k2 too.
    const keyring = Keyring.parse(`${k2},${k1}`);
    h = await createHarness({ encryption: keyring });
    await h.startWorkers(['default']);
    http = buildHttpService(h.client, {
      codec: { codec: new EncryptionCodec(keyring), token, corsOrigins: [UI_ORIGIN] },
    });
  });

  afterAll(async () => {
    await http?.close();
    await h?.close();
  });

  async function rawHistory(workflowId: string) {
    // The raw gRPC service applies no codec: this is what the server stores and what anyone reading it sees.
    const { history } = await h.env.client.workflowService.getWorkflowExecutionHistory({
      namespace: 'default',
      execution: { workflowId },
    });
    return history!.events!;
  }

  it('stores every payload of a job encrypted; the client reads the result decrypted', async () => {
    const { invoiceId } = await h.createInvoice();
    const run = await h.client.enqueue(invoiceGeneration, { invoiceId });
    const result = await h.env.client.workflow.getHandle(run.workflowId).result();
    expect(result).toMatchObject({ invoiceId });
    expect((await h.client.status(run.workflowId)).result).toEqual(result);

    const events = await rawHistory(run.workflowId);
    const payloads = payloadsIn(events);
    // The input, the (local) activity's result in its marker — a local activity's input is not recorded — and the
    // workflow's result.
    expect(payloads.length).toBeGreaterThanOrEqual(3);
    for (const p of payloads) {
      expect(text(p.metadata?.encoding)).toBe(ENCRYPTED_ENCODING);
      expect(text(p.metadata?.[KEY_ID_METADATA])).toBe('k2');
      expect(Buffer.from(p.data!).includes(String(invoiceId))).toBe(false);
    }
    // Only the workflow ID names the invoice: IDs (idempotency keys), like failure messages, are not payloads.
    expect(JSON.stringify(events).replaceAll(run.workflowId, '')).not.toContain(String(invoiceId));
  });

  it('decodes the stored input through the codec endpoint, for the bearer token only', async () => {
    const { invoiceId } = await h.createInvoice();
    const run = await h.client.enqueue(invoiceGeneration, { invoiceId });
    await h.env.client.workflow.getHandle(run.workflowId).result();
    const started = (await rawHistory(run.workflowId))[0]!.workflowExecutionStartedEventAttributes!;
    // As the Web UI sends it: Payloads in proto JSON (base64 bytes).
    const body = temporal.api.common.v1.Payloads.toObject(temporal.api.common.v1.Payloads.create(started.input!), {
      bytes: String,
    });
    const decode = (url: string, headers: Record<string, string> = {}) =>
      http.inject({
        method: 'POST',
        url,
        payload: body,
        headers: { 'content-type': 'application/json', 'x-namespace': 'default', ...headers },
      });

    const decoded = await decode('/codec/decode', { authorization: `Bearer ${token}` });
    expect(decoded.statusCode).toBe(200);
    const payload = temporal.api.common.v1.Payloads.fromObject(decoded.json()).payloads[0]!;
    expect(text(payload.metadata!.encoding)).toBe('json/plain');
    expect(defaultPayloadConverter.fromPayload(payload)).toEqual({ invoiceId });

    // The Web UI's form: the token in the endpoint's path.
    expect((await decode(`/codec/${token}/decode`)).json()).toEqual(decoded.json());

    for (const denied of [
      decode('/codec/decode'),
      decode('/codec/decode', { authorization: `Bearer ${token}x` }),
      decode('/codec/not-the-token-at-all-0000/decode'),
    ]) {
      const response = await denied;
      expect(response.statusCode).toBe(401);
      expect(response.body).not.toContain(String(invoiceId));
    }

    // A payload under a key the endpoint lacks: a clear 422, not garbage.
    const foreign = await new EncryptionCodec(Keyring.parse(Keyring.generate('k9'))).encode([
      defaultPayloadConverter.toPayload({ invoiceId }),
    ]);
    const unknown = await http.inject({
      method: 'POST',
      url: '/codec/decode',
      headers: { authorization: `Bearer ${token}` },
      payload: temporal.api.common.v1.Payloads.toObject(temporal.api.common.v1.Payloads.create({ payloads: foreign }), {
        bytes: String,
      }),
    });
    expect(unknown.statusCode).toBe(422);
    expect(unknown.json().error).toMatch(/key "k9"/);
    const malformed = await http.inject({
      method: 'POST',
      url: '/codec/decode',
      headers: { authorization: `Bearer ${token}` },
      payload: { nope: 1 },
    });
    expect(malformed.statusCode).toBe(400);
  });

  it('never writes the token to the request log', async () => {
    let logged = '';
    const log = new Writable({ write: (chunk, _encoding, done) => ((logged += String(chunk)), done()) });
    const logging = buildHttpService(h.client, {
      logger: log,
      codec: { codec: new EncryptionCodec(Keyring.parse(k2)), token, corsOrigins: [UI_ORIGIN] },
    });
    const response = await logging.inject({ method: 'POST', url: `/codec/${token}/decode`, payload: { payloads: [] } });
    await logging.close();
    expect(response.statusCode).toBe(200);
    expect(logged).toContain('/codec/<token>/decode');
    expect(logged).not.toContain(token);
  });

  it('answers the browser preflight for the Web UI origin only', async () => {
    const preflight = (origin: string) =>
      http.inject({
        method: 'OPTIONS',
        url: `/codec/${token}/decode`,
        headers: {
          origin,
          'access-control-request-method': 'POST',
          'access-control-request-headers': 'content-type,x-namespace',
        },
      });
    const allowed = await preflight(UI_ORIGIN);
    expect(allowed.headers['access-control-allow-origin']).toBe(UI_ORIGIN);
    expect(String(allowed.headers['access-control-allow-headers']).toLowerCase()).toContain('x-namespace');
    expect((await preflight('http://evil.example')).headers['access-control-allow-origin']).toBeUndefined();
  });

  it('jobctl enqueues and reads encrypted jobs with JOBS_ENCRYPTION_KEYS, and says what is missing without it', async () => {
    const { invoiceId } = await h.createInvoice();
    const env = { TEMPORAL_ADDRESS: inject('temporalAddress'), JOBS_TASK_QUEUE_PREFIX: h.taskQueuePrefix };
    const run = await jobctl(['enqueue', 'invoice-generation', JSON.stringify({ invoiceId }), '--wait', '--json'], {
      ...env,
      JOBS_ENCRYPTION_KEYS: `${k2},${k1}`,
    });
    expect(run.stderr).toBe('');
    expect(JSON.parse(run.stdout)).toMatchObject({ status: 'Completed', result: { invoiceId } });
    const workflowId = `invoice-generation/${invoiceId}`;
    expect(
      text(
        (await rawHistory(workflowId))[0]!.workflowExecutionStartedEventAttributes!.input!.payloads![0]!.metadata!
          .encoding,
      ),
    ).toBe(ENCRYPTED_ENCODING);

    const blind = await jobctl(['status', workflowId], env);
    expect(blind.code).toBe(1);
    expect(blind.stderr.trim().split('\n')).toHaveLength(1);
    expect(blind.stderr).toMatch(/encrypted.*JOBS_ENCRYPTION_KEYS/);
  }, 60_000);

  it('runs a job enqueued under the old key on workers that rotated, and answers under the new key', async () => {
    await h.stopWorkers();
    // A web process not yet redeployed: it only has k1.
    const oldClient = new JobClient({
      client: new Client({
        connection: h.env.connection,
        namespace: 'default',
        dataConverter: dataConverterFor(Keyring.parse(k1)),
      }),
      taskQueuePrefix: h.taskQueuePrefix,
    });
    const { invoiceId } = await h.createInvoice();
    const run = await oldClient.enqueue(invoiceGeneration, { invoiceId });
    await h.startWorkers(['default']);
    await expect(h.env.client.workflow.getHandle(run.workflowId).result()).resolves.toMatchObject({ invoiceId });

    const events = await rawHistory(run.workflowId);
    const keyOf = (p: RawPayload | undefined) => text(p?.metadata?.[KEY_ID_METADATA]);
    expect(keyOf(events[0]!.workflowExecutionStartedEventAttributes!.input!.payloads![0])).toBe('k1');
    const completed = events.find(
      (e) => e.workflowExecutionCompletedEventAttributes,
    )!.workflowExecutionCompletedEventAttributes!;
    expect(keyOf(completed.result!.payloads![0])).toBe('k2');
    // The old web process cannot read the result: the error names the key it lacks.
    await expect(oldClient.status(run.workflowId)).rejects.toThrow(
      /key "k2", which is not in this process's keyring \(k1\)/,
    );

    // A Schedule keeps its action's arguments under the key that wrote them; a sync with the new key re-encrypts them
    // (the key is part of what sync compares), though the declaration did not change.
    const scheduleKey = async (scheduleId: string) => {
      const { schedule } = await h.env.client.workflowService.describeSchedule({ namespace: 'default', scheduleId });
      return keyOf(schedule!.action!.startWorkflow!.input!.payloads![0]);
    };
    const scheduleId = scheduleIdFor(h.taskQueuePrefix, healthCheck.name);
    try {
      expect((await syncSchedules(oldClient, [healthCheck])).created).toEqual([{ job: 'health-check', scheduleId }]);
      expect(await scheduleKey(scheduleId)).toBe('k1');
      expect((await syncSchedules(h.client, [healthCheck])).updated).toEqual([{ job: 'health-check', scheduleId }]);
      expect(await scheduleKey(scheduleId)).toBe('k2');
      expect((await syncSchedules(h.client, [healthCheck])).unchanged).toEqual([{ job: 'health-check', scheduleId }]);
    } finally {
      await h.env.client.schedule.getHandle(scheduleId).delete();
    }
  });
});
