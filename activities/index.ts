import { createAlertActivities, type AlertActivityDeps } from './alerts';
import { createDatabaseActivities, type DatabaseActivityDeps } from './database';
import { createExportActivities, type ExportActivityDeps } from './export-storage';
import { createMailActivities, type MailActivityDeps } from './mail';
import { createPaymentActivities, type PaymentActivityDeps } from './payment-gateway';
import { createVendorActivities, type VendorActivityDeps } from './vendor-api';

export type ActivityDeps = DatabaseActivityDeps &
  AlertActivityDeps &
  ExportActivityDeps &
  MailActivityDeps &
  PaymentActivityDeps &
  VendorActivityDeps & {
    /** Called when the noop activity starts, with its id; the throughput benchmark measures start latency with it. */
    onNoopStarted?: (id: string) => void;
  };

/** All activities, built from their dependencies so workers and tests inject the database and the mail transport. */
export function createActivities(deps: ActivityDeps) {
  return {
    ...createDatabaseActivities(deps),
    ...createMailActivities(deps),
    ...createVendorActivities(deps),
    ...createExportActivities(deps),
    ...createPaymentActivities(deps),
    ...createAlertActivities(deps),
    async noop(id: string): Promise<void> {
      deps.onNoopStarted?.(id);
    },
  };
}

export type Activities = ReturnType<typeof createActivities>;
