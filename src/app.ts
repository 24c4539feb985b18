import * as activityModules from '../activities';
import type { Settings } from './config';
import { openDatabase, type OpenDatabase } from './db/database';
import { FileOutboxTransport } from './mail';
import { PaymentGatewayClient, VendorClient } from './vendor/client';

type Modules = typeof activityModules;
/** The `create<Job>Activities` factories `activities/index.ts` exports. */
type Factory = Modules[keyof Modules & `create${string}Activities`];
type Intersection<U> = (U extends unknown ? (x: U) => void : never) extends (x: infer I) => void ? I : never;

/** What all activities need together: every factory's deps. */
export type ActivityDeps = Intersection<Parameters<Factory>[0]>;
/** Every activity a worker registers, by name. */
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

export interface AppResources {
  database: OpenDatabase;
  mail: FileOutboxTransport;
  activities: Activities;
  close(): Promise<void>;
}

/**
 * The shared services jobs use — the business database, the mail transport, the vendor API and payment gateway
 * clients — opened from the settings and handed to every job's activity factory. `overrides` replaces or adds
 * dependencies (the JobClient the health check reads visibility with, test hooks, benchmark listeners).
 */
export async function openApp(settings: Settings, overrides: Partial<ActivityDeps> = {}): Promise<AppResources> {
  const database = await openDatabase(settings);
  const mail = new FileOutboxTransport(settings.mailOutboxDir);
  const activities = createActivities({
    db: database.db,
    mail,
    vendor: new VendorClient({ baseUrl: settings.vendorApiUrl, timeoutMs: settings.vendorTimeoutMs }),
    gateway: new PaymentGatewayClient({ baseUrl: settings.paymentGatewayUrl, timeoutMs: settings.vendorTimeoutMs }),
    alertWebhookUrl: settings.alertWebhookUrl,
    queueAlerts: { ...settings.queueAlerts, rateLimits: settings.rateLimits },
    ...overrides,
  });
  return { database, mail, activities, close: () => database.close() };
}
