import { createActivities, type Activities } from '../activities';
import type { Settings } from './config';
import { openDatabase, type OpenDatabase } from './db/database';
import { FileOutboxTransport } from './mail';

export interface AppResources {
  database: OpenDatabase;
  mail: FileOutboxTransport;
  activities: Activities;
  close(): Promise<void>;
}

/** What a worker process needs besides Temporal: the business database and the mail transport, wired into activities. */
export async function openApp(settings: Settings): Promise<AppResources> {
  const database = await openDatabase(settings);
  const mail = new FileOutboxTransport(settings.mailOutboxDir);
  return { database, mail, activities: createActivities({ db: database.db, mail }), close: () => database.close() };
}
