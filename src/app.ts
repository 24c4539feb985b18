import { createActivities, type Activities, type ActivityDeps } from '../activities';
import type { Settings } from './config';
import { openDatabase, type OpenDatabase } from './db/database';
import { FileOutboxTransport } from './mail';
import { PaymentGatewayClient, VendorClient } from './vendor/client';

export interface AppResources {
  database: OpenDatabase;
  mail: FileOutboxTransport;
  activities: Activities;
  close(): Promise<void>;
}

/**
 * What a worker process needs besides Temporal — the business database, the mail transport, the vendor API client —
 * wired into the activities. `overrides` replaces or adds dependencies (benchmarks, tests).
 */
export async function openApp(settings: Settings, overrides: Partial<ActivityDeps> = {}): Promise<AppResources> {
  const database = await openDatabase(settings);
  const mail = new FileOutboxTransport(settings.mailOutboxDir);
  return { database, mail, activities: createActivities({
      db: database.db,
      mail,
      vendor: new VendorClient({ baseUrl: settings.vendorApiUrl, timeoutMs: settings.vendorTimeoutMs }),
      alertWebhookUrl: settings.alertWebhookUrl,
      gateway: new PaymentGatewayClient({ baseUrl: settings.paymentGatewayUrl, timeoutMs: settings.vendorTimeoutMs }),
      ...overrides,
    }), close: () => database.close() };
}
