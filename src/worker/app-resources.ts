import type { Logger } from 'pino';
import type { Application } from '../application';
import type { JobClient } from '../client/client';
import type { Settings } from '../config';
import { openDatabase, type OpenDatabase } from '../db/database';
import { createConcurrencySemaphoreActivities } from './concurrency-semaphore-activities';
import { createHealthCheckActivities } from './health-check-activities';

/** What a worker process opens for an application: its database and every activity, the library's own included. */
export interface AppResources {
  database: OpenDatabase;
  /** Every activity a worker registers, by name: the application's and the library's (health check, semaphore). */
  activities: Record<string, unknown>;
  close(): Promise<void>;
}

/** What the library's own activities are handed besides the database. */
export interface LibraryActivityDeps {
  /** The client the health check reads visibility with. */
  jobs?: JobClient;
  /** Where the health check's alerts are logged. */
  alertLogger?: Logger;
}

/**
 * Opens the application database (migrated: the library's tables, then the application's) and builds every activity:
 * the application's from its `activities` factory, handed the database, the settings and `overrides` (a test's fake
 * service, a benchmark's hook), and the library's own. Throws if two register an activity under the same name.
 */
export async function openApplication(
  app: Application,
  settings: Settings,
  overrides: LibraryActivityDeps & Record<string, unknown> = {},
): Promise<AppResources> {
  const database = await openDatabase({
    databaseUrl: settings.databaseUrl,
    sqlitePath: settings.sqlitePath,
    migrations: app.migrations,
  });
  try {
    const library: Record<string, unknown> = {
      ...createHealthCheckActivities({
        db: database.db,
        alertWebhookUrl: settings.alertWebhookUrl,
        queueAlerts: { ...settings.queueAlerts, rateLimits: settings.rateLimits },
        ...overrides,
      }),
      ...createConcurrencySemaphoreActivities({}),
    };
    const own = app.activities({ db: database.db, settings, ...overrides });
    for (const name of Object.keys(own)) {
      if (name in library)
        throw new TypeError(`application activity "${name}" has the name of a durable-jobs activity`);
    }
    return { database, activities: { ...library, ...own }, close: () => database.close() };
  } catch (err) {
    await database.close();
    throw err;
  }
}
