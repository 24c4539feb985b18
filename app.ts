import path from 'node:path';
import { defineApplication } from 'durable-jobs';
import { FakeVendor } from 'durable-jobs/testing';
import type { Kysely } from 'kysely';
import * as activityModules from './activities';
import { FileOutboxTransport } from './activities/services/mail';
import { readServiceSettings, type ServiceSettings } from './activities/services/settings';
import { migrations } from './activities/services/migrations';
import type { Database } from './activities/services/schema';
import { seedDemoData } from './activities/services/seed';
import { PaymentGatewayClient, VendorClient } from './activities/services/vendor-client';
import './workflows'; // declares the jobs in every process that loads the application (CLI, worker, tests)

type Modules = typeof activityModules;
/** The `create<Job>Activities` factories `activities/index.ts` exports. */
type Factory = Modules[keyof Modules & `create${string}Activities`];
type Intersection<U> = (U extends unknown ? (x: U) => void : never) extends (x: infer I) => void ? I : never;

/**
 * What all activities need together: every factory's deps; and `services`, settings that replace what the
 * environment says (a test's fakes).
 */
export type ActivityDeps = Intersection<Parameters<Factory>[0]> & { services?: Partial<ServiceSettings> };
/** Every activity of this application, by name. */
export type Activities = Intersection<ReturnType<Factory>>;

/** Every job's activities, built from their deps. Throws if two jobs register an activity under the same name. */
export function createActivities(deps: ActivityDeps): Activities {
  const all: Record<string, unknown> = {};
  for (const [factoryName, factory] of Object.entries(activityModules)) {
    if (!/^create\w+Activities$/.test(factoryName) || typeof factory !== 'function') continue;
    for (const [name, fn] of Object.entries((factory as (deps: ActivityDeps) => object)(deps))) {
      if (name in all) throw new TypeError(`activity "${name}" is registered twice (again by ${factoryName})`);
      all[name] = fn;
    }
  }
  return all as Activities;
}

/**
 * The example application: the seed article's jobs (`workflows/`, `activities/`) and the services they share — the
 * business database's tables, the mail transport, the vendor API and payment gateway clients — opened from the
 * settings. A test or benchmark hands in its own services (`overrides` of `ActivityDeps`).
 */
export default defineApplication<ActivityDeps>({
  workflowsPath: path.join(__dirname, 'workflows'),
  migrations,
  activities: ({ db, services, ...overrides }) => {
    const s = { ...readServiceSettings(), ...services };
    return createActivities({
      db: db as Database,
      mail: new FileOutboxTransport(s.mailOutboxDir),
      vendor: new VendorClient({ baseUrl: s.vendorApiUrl, timeoutMs: s.vendorTimeoutMs }),
      gateway: new PaymentGatewayClient({ baseUrl: s.paymentGatewayUrl, timeoutMs: s.vendorTimeoutMs }),
      ...overrides,
    });
  },
  seed: async (db: Kysely<any>, count?: number) => {
    const seeded = await seedDemoData(db as Database, count);
    return seeded.users ? `${seeded.users} demo users, invoices and webhook payloads` : undefined;
  },
  /** Local fakes of the vendor API (:4010) and the payment gateway (:4020), unless their URLs are set. */
  dev: async ({ anyPort }) => {
    const vendor = process.env.VENDOR_API_URL ? undefined : new FakeVendor();
    const vendorUrl = vendor ? await vendor.start(anyPort ? 0 : 4010) : process.env.VENDOR_API_URL!;
    const gateway = process.env.PAYMENT_GATEWAY_URL ? undefined : new FakeVendor({ path: '/v1/charges' });
    const gatewayUrl = gateway ? await gateway.start(anyPort ? 0 : 4020) : process.env.PAYMENT_GATEWAY_URL!;
    return {
      env: { VENDOR_API_URL: vendorUrl, PAYMENT_GATEWAY_URL: gatewayUrl },
      banner: [
        ['Vendor API', `${vendorUrl}${vendor ? ' (local fake; inject faults with POST /_faults)' : ''}`],
        ['Payment gateway', `${gatewayUrl}${gateway ? ' (local fake)' : ''}`],
      ],
      examples: [
        `npx jobctl enqueue invoice-generation '{"invoiceId":42}'`,
        'npx jobctl status invoice-generation/42',
        `npx jobctl enqueue process-webhook '{"webhookPayloadId":7}'`,
        `npx jobctl enqueue process-payment '{"paymentId":3}'`,
        `npx jobctl enqueue large-data-export '{"exportId":1}' --wait`,
      ],
      stop: async () => {
        await vendor?.stop();
        await gateway?.stop();
      },
    };
  },
});
