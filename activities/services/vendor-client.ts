import { postIdempotent } from './http';

export { parseRetryAfter } from './http';

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

/** The webhook vendor's API: processes a payload, once per idempotency key. */
export class VendorClient {
  constructor(private readonly options: VendorClientOptions) {}

  /** `signal` abandons the call (the activity's cancellation signal): it rejects with the signal's reason. */
  process(data: unknown, idempotencyKey: string, signal?: AbortSignal): Promise<VendorResult> {
    return postIdempotent({ service: 'vendor-api', ...this.options }, '/v1/process', data, idempotencyKey, signal);
  }
}

/** The payment gateway: charges a payment, once per idempotency key however often the call is retried. */
export class PaymentGatewayClient {
  constructor(private readonly options: VendorClientOptions) {}

  charge(
    charge: { paymentId: number; amountCents: number; currency: string },
    idempotencyKey: string,
    /** Abandons the call (the activity's cancellation signal): it rejects with the signal's reason. */
    signal?: AbortSignal,
  ): Promise<VendorResult> {
    return postIdempotent(
      { service: 'payment-gateway', ...this.options },
      '/v1/charges',
      charge,
      idempotencyKey,
      signal,
    );
  }
}
