import path from 'node:path';

/**
 * Where the example application's services are: its settings, read from the environment by the application itself
 * (the library knows nothing of them). The defaults are what `npm start` runs: the local fakes and a file outbox.
 */
export interface ServiceSettings {
  /** Directory the file mail transport writes messages to. @default './.data/outbox' (`JOBS_MAIL_OUTBOX_DIR`) */
  mailOutboxDir: string;
  /** Base URL of the webhook vendor's API. @default 'http://127.0.0.1:4010', the local fake (`VENDOR_API_URL`) */
  vendorApiUrl: string;
  /** Base URL of the payment gateway. @default 'http://127.0.0.1:4020', the local fake (`PAYMENT_GATEWAY_URL`) */
  paymentGatewayUrl: string;
  /** Timeout of one vendor API or payment gateway call. @default 5000 ms (`VENDOR_API_TIMEOUT_MS`) */
  vendorTimeoutMs: number;
}

export const DEFAULT_SERVICE_SETTINGS: ServiceSettings = {
  mailOutboxDir: '.data/outbox',
  vendorApiUrl: 'http://127.0.0.1:4010',
  paymentGatewayUrl: 'http://127.0.0.1:4020',
  vendorTimeoutMs: 5000,
};

/** The services' settings from `env`; a TypeError naming the variable for a bad value. */
export function readServiceSettings(env: NodeJS.ProcessEnv = process.env): ServiceSettings {
  const d = DEFAULT_SERVICE_SETTINGS;
  return {
    mailOutboxDir: path.resolve(nonEmpty(env.JOBS_MAIL_OUTBOX_DIR) ?? d.mailOutboxDir),
    vendorApiUrl: nonEmpty(env.VENDOR_API_URL) ?? d.vendorApiUrl,
    paymentGatewayUrl: nonEmpty(env.PAYMENT_GATEWAY_URL) ?? d.paymentGatewayUrl,
    vendorTimeoutMs: positiveInt('VENDOR_API_TIMEOUT_MS', env.VENDOR_API_TIMEOUT_MS, d.vendorTimeoutMs),
  };
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value.trim();
}

function positiveInt(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined || value.trim() === '') return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new TypeError(`${name} must be a positive integer, got "${value}"`);
  return n;
}
