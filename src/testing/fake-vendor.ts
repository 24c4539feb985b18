import http from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A local stand-in for an external API (the webhook vendor, the payment gateway), over real HTTP, with fault injection.
 * Like real payment and webhook
 * APIs it honours the `Idempotency-Key` header: a key it already applied is answered from its record, not applied
 * again. It counts what it applied per key, and per record whatever the key (`records`: one record is one request body
 * unless `recordOf` says otherwise), so tests can prove nothing was applied twice, not even under two keys.
 *
 * Faults are scripted per idempotency key (`script`) or drawn at random from a seed (`randomFaults`).
 */
export type FaultKind = 'ok' | 'timeout' | 'rate_limit' | 'client_error' | 'server_error' | 'reset';

export interface Fault {
  kind: FaultKind;
  /** For `rate_limit`: the Retry-After header in seconds; omitted means no header. */
  retryAfterSeconds?: number;
  /**
   * For `timeout`: how long to hold the answer. The request IS applied, as when a real service is slow. @default 10 s
   */
  delayMs?: number;
}

export interface RandomFaults {
  seed: number;
  /** Relative weights of each kind. */
  weights: Partial<Record<FaultKind, number>>;
  /** Delay for drawn `timeout` faults. */
  timeoutDelayMs?: number;
  /** Retry-After for drawn `rate_limit` faults; omitted half the time when undefined. */
  retryAfterSeconds?: number;
}

export interface VendorEffect {
  /** How many times the request was applied: 1 for a correct client, whatever it retried. */
  applied: number;
  /** Requests with this key answered from the record instead of applied again. */
  replayed: number;
  result: { reference: string; processedAt: string };
}

/** One request the vendor received on its applying route. */
export interface VendorRequest {
  /** Its Idempotency-Key header. */
  key: string;
  /** The raw JSON body. */
  body: string;
  /** How the vendor answered it. */
  fault: FaultKind;
  /** When it arrived, in ms since the epoch (`Date.now()`). */
  at: number;
}

/** What the vendor applied for one record (one payload, one payment), under whatever keys. */
export interface RecordEffect {
  /** Times it was applied: deliveries of a payload, charges of a payment. More than 1 is a duplicate. */
  applied: number;
  /** The idempotency keys it was applied under. */
  keys: Set<string>;
}

export interface FakeVendorOptions {
  /** The route that applies requests. @default '/v1/process' */
  path?: string;
  /**
   * Which record a request's body is about (the payload, the payment): effects are counted per record whatever the
   * key. @default the raw body: one record per distinct body
   */
  recordOf?: (body: string) => string;
  /**
   * Negative control only: the first time a request whose record this returns true for is applied, the vendor applies
   * it twice (as a vendor with a broken idempotency record would). Checks that count effects per record must fail.
   */
  applyTwice?: (record: string, key: string) => boolean;
}

export class FakeVendor {
  private server?: http.Server;
  /** The one route that applies requests: `/v1/process` for the webhook vendor, `/v1/charges` for the gateway. */
  readonly path: string;
  private readonly recordOf: (body: string) => string;
  private readonly applyTwice?: (record: string, key: string) => boolean;

  constructor(options: FakeVendorOptions = {}) {
    this.path = options.path ?? '/v1/process';
    this.recordOf = options.recordOf ?? ((body) => body);
    this.applyTwice = options.applyTwice;
  }

  private readonly scripts = new Map<string, Fault[]>();
  private random?: { next: () => number; config: RandomFaults };
  /** What was applied per idempotency key. */
  readonly effects = new Map<string, VendorEffect>();
  /** What was applied per record (`recordOf` of the body), whatever the key: the duplicate check. */
  readonly records = new Map<string, RecordEffect>();
  /** Every request per idempotency key, faults included. */
  readonly requests = new Map<string, number>();
  /** Every request with a key, in arrival order, faults included: which key each body was sent with. */
  readonly requestLog: VendorRequest[] = [];
  /**
   * Requests per idempotency key whose client went away before the answer (a timeout, or a cancelled activity that
   * aborted its call); `reset` faults, where the vendor itself drops the connection, are not counted.
   */
  readonly aborted = new Map<string, number>();
  private sequence = 0;

  /** Starts listening; port 0 picks a free one. */
  async start(port = 0, host = '127.0.0.1'): Promise<string> {
    this.server = http.createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((resolve) => this.server!.listen(port, host, resolve));
    return this.url;
  }

  get url(): string {
    const { port } = this.server!.address() as AddressInfo;
    return `http://127.0.0.1:${port}`;
  }

  async stop(): Promise<void> {
    if (!this.server) return;
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server!.close(() => resolve()));
  }

  /** The next requests with this key get these answers, in order; after that, normal (or random) answers. */
  script(idempotencyKey: string, faults: Array<Fault | FaultKind>): void {
    this.scripts.set(
      idempotencyKey,
      faults.map((f) => (typeof f === 'string' ? { kind: f } : f)),
    );
  }

  /** Draws a fault for every unscripted request from a seeded generator; `undefined` turns it off. */
  randomFaults(config: RandomFaults | undefined): void {
    this.random = config ? { next: mulberry32(config.seed), config } : undefined;
  }

  private nextFault(key: string): Fault {
    const scripted = this.scripts.get(key);
    if (scripted && scripted.length > 0) return scripted.shift()!;
    if (!this.random) return { kind: 'ok' };
    const { next, config } = this.random;
    const entries = Object.entries(config.weights) as [FaultKind, number][];
    const total = entries.reduce((sum, [, w]) => sum + w, 0);
    let pick = next() * total;
    for (const [kind, weight] of entries) {
      pick -= weight;
      if (pick < 0) {
        if (kind === 'timeout') return { kind, delayMs: config.timeoutDelayMs };
        if (kind === 'rate_limit')
          return {
            kind,
            retryAfterSeconds: config.retryAfterSeconds ?? (next() < 0.5 ? undefined : Math.ceil(next() * 60)),
          };
        return { kind };
      }
    }
    return { kind: 'ok' };
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    if (req.method === 'GET' && req.url === '/_effects') {
      return json(
        res,
        200,
        Object.fromEntries([...this.requests].map(([key, requests]) => [key, { requests, ...this.effects.get(key) }])),
      );
    }
    if (req.method === 'POST' && req.url === '/_faults') {
      const body = JSON.parse((await readBody(req)) || '{}') as {
        key?: string;
        faults?: Fault[];
        random?: RandomFaults | null;
      };
      if (body.key && body.faults) this.script(body.key, body.faults);
      if (body.random !== undefined) this.randomFaults(body.random ?? undefined);
      return json(res, 204, undefined);
    }
    if (req.method !== 'POST' || req.url !== this.path)
      return json(res, 404, { error: `no route ${req.method} ${req.url}` });

    const key = req.headers['idempotency-key'];
    const body = await readBody(req);
    if (typeof key !== 'string' || key === '') return json(res, 400, { error: 'Idempotency-Key header is required' });
    this.requests.set(key, (this.requests.get(key) ?? 0) + 1);
    const fault = this.nextFault(key);
    res.on('close', () => {
      if (!res.writableFinished && fault.kind !== 'reset') this.aborted.set(key, (this.aborted.get(key) ?? 0) + 1);
    });
    this.requestLog.push({ key, body, fault: fault.kind, at: Date.now() });
    switch (fault.kind) {
      case 'reset':
        req.socket.destroy();
        return;
      case 'rate_limit':
        if (fault.retryAfterSeconds !== undefined) res.setHeader('Retry-After', String(fault.retryAfterSeconds));
        return json(res, 429, { error: 'rate limited' });
      case 'client_error':
        return json(res, 422, { error: 'payload rejected: unknown event type' });
      case 'server_error':
        return json(res, 503, { error: 'temporarily unavailable' });
      case 'timeout': {
        // Applied, then answered too late: the client gives up, and only the idempotency key saves the retry.
        const applied = this.apply(key, body);
        await new Promise((r) => setTimeout(r, fault.delayMs ?? 10_000));
        if (!res.destroyed) json(res, 200, applied.result);
        return;
      }
      case 'ok':
        return json(res, 200, this.apply(key, body).result);
    }
  }

  /** Requests answered from the idempotency record instead of applied again, over every key. */
  get replayed(): number {
    let total = 0;
    for (const effect of this.effects.values()) total += effect.replayed;
    return total;
  }

  private apply(key: string, body: string): VendorEffect {
    const existing = this.effects.get(key);
    if (existing) {
      existing.replayed++;
      return existing;
    }
    let record: string;
    try {
      record = this.recordOf(body);
    } catch {
      record = body; // a body the caller's recordOf cannot read is its own record
    }
    const times = this.applyTwice?.(record, key) ? 2 : 1;
    const effect: VendorEffect = {
      applied: times,
      replayed: 0,
      result: { reference: `vnd_${++this.sequence}`, processedAt: new Date().toISOString() },
    };
    this.effects.set(key, effect);
    const perRecord = this.records.get(record) ?? { applied: 0, keys: new Set<string>() };
    perRecord.applied += times;
    perRecord.keys.add(key);
    this.records.set(record, perRecord);
    return effect;
  }
}

function json(res: http.ServerResponse, status: number, body: unknown): void {
  if (res.headersSent || res.destroyed) return;
  res.statusCode = status;
  if (body === undefined) return void res.end();
  res.setHeader('content-type', 'application/json');
  res.end(JSON.stringify(body));
}

function readBody(req: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

/** Small seeded PRNG: the same seed gives the same faults. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
