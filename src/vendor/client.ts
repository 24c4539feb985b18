import { ClientError, ConnectionFailedError, NetworkTimeoutError, RateLimitedError, ServerError } from '../external-errors';

export interface VendorClientOptions {
  /** Base URL of the vendor API. */
  baseUrl: string;
  /** Per-request timeout. @default 5000 ms */
  timeoutMs?: number;
}

export interface VendorResult {
  reference: string;
  processedAt: string;
}

const SERVICE = 'vendor-api';

/**
 * The webhook vendor's API over HTTP. Every call carries an idempotency key, so a retried call is applied once; every
 * failure is turned into a typed error the retry table knows.
 */
export class VendorClient {
  private readonly timeoutMs: number;

  constructor(private readonly options: VendorClientOptions) {
    this.timeoutMs = options.timeoutMs ?? 5000;
  }

  async process(data: unknown, idempotencyKey: string): Promise<VendorResult> {
    let response: Response;
    try {
      response = await fetch(`${this.options.baseUrl.replace(/\/+$/, '')}/v1/process`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'idempotency-key': idempotencyKey },
        body: JSON.stringify(data),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (err) {
      if ((err as Error).name === 'TimeoutError') throw new NetworkTimeoutError(SERVICE, this.timeoutMs);
      const code = ((err as { cause?: { code?: string } }).cause?.code ?? undefined) as string | undefined;
      throw new ConnectionFailedError(SERVICE, code, { cause: err });
    }
    let text: string;
    try {
      text = await response.text();
    } catch (err) {
      if ((err as Error).name === 'TimeoutError') throw new NetworkTimeoutError(SERVICE, this.timeoutMs);
      throw new ConnectionFailedError(SERVICE, undefined, { cause: err });
    }
    if (response.status === 429) throw new RateLimitedError(SERVICE, parseRetryAfter(response.headers.get('retry-after')));
    if (response.status >= 400 && response.status < 500) throw new ClientError(SERVICE, response.status, text.slice(0, 200));
    if (response.status >= 500) throw new ServerError(SERVICE, response.status, text.slice(0, 200));
    return JSON.parse(text) as VendorResult;
  }
}

/** Retry-After is either delay-seconds or an HTTP date (RFC 9110 §10.2.3). */
export function parseRetryAfter(value: string | null, now = Date.now()): number | undefined {
  if (value === null || value.trim() === '') return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}
