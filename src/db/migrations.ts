import { Migrator, sql, type Kysely, type Migration } from 'kysely';

export type Dialect = 'sqlite' | 'postgres';

/** What the application adds: its own migrations by name, for a dialect (`Application.migrations`). */
export type AppMigrations = (dialect: Dialect) => Readonly<Record<string, Migration>>;

/**
 * The library's own tables (the health check's incidents), kept apart from the application's: their own Kysely
 * migration table, `durable_jobs_migration`, so an application's migrations and ours never interleave. `ifNotExists`:
 * databases migrated before the library and the application were split have these tables from the application's
 * migrations of the same names.
 */
function libraryMigrations(dialect: Dialect): Record<string, Migration> {
  const idType = dialect === 'postgres' ? 'serial' : 'integer';
  const id = (col: any) => (dialect === 'postgres' ? col.primaryKey() : col.primaryKey().autoIncrement());
  return {
    '0001_alert_incidents': {
      async up(db: Kysely<any>) {
        await db.schema
          .createTable('alert_incidents')
          .ifNotExists()
          .addColumn('id', idType, id)
          .addColumn('job', 'text', (c) => c.notNull())
          .addColumn('opened_at', 'text', (c) => c.notNull())
          .addColumn('failure_rate', 'real', (c) => c.notNull())
          .addColumn('notified_at', 'text')
          .addColumn('closed_at', 'text')
          .addColumn('recovery_notified_at', 'text')
          .execute();
        await db.schema
          .createIndex('alert_incidents_job')
          .ifNotExists()
          .on('alert_incidents')
          .columns(['job', 'closed_at'])
          .execute();
      },
      async down(db: Kysely<any>) {
        await db.schema.dropTable('alert_incidents').execute();
      },
    },
    '0002_queue_incidents': {
      async up(db: Kysely<any>) {
        await db.schema
          .createTable('queue_incidents')
          .ifNotExists()
          .addColumn('id', idType, id)
          .addColumn('kind', 'text', (c) => c.notNull())
          .addColumn('task_queue', 'text', (c) => c.notNull())
          .addColumn('opened_at', 'text', (c) => c.notNull())
          .addColumn('value_seconds', 'real')
          .addColumn('threshold_seconds', 'real', (c) => c.notNull())
          .addColumn('notified_at', 'text')
          .addColumn('closed_at', 'text')
          .addColumn('recovery_notified_at', 'text')
          .execute();
        // At most one open incident per kind and queue, even if two checks ever ran at once.
        await db.schema
          .createIndex('queue_incidents_one_open')
          .ifNotExists()
          .on('queue_incidents')
          .columns(['kind', 'task_queue'])
          .unique()
          .where(sql.ref('closed_at'), 'is', null)
          .execute();
      },
      async down(db: Kysely<any>) {
        await db.schema.dropTable('queue_incidents').execute();
      },
    },
  };
}

/** Runs one migrator to the latest migration; throws naming the migration that failed. */
async function run(migrator: Migrator): Promise<void> {
  const { error, results } = await migrator.migrateToLatest();
  const failed = results?.find((r) => r.status === 'Error');
  if (error || failed) {
    throw new Error(
      `database migration ${failed?.migrationName ?? ''} failed: ${String((error as Error)?.message ?? error)}`,
    );
  }
}

/**
 * Brings the schema up to date, the library's tables first, then the application's (Kysely's default migration
 * table); safe to call from every process at start-up.
 */
export async function migrateToLatest(db: Kysely<any>, dialect: Dialect, app?: AppMigrations): Promise<void> {
  if (dialect === 'sqlite') await sql`PRAGMA foreign_keys = ON`.execute(db);
  await run(
    new Migrator({
      db,
      provider: { getMigrations: async () => libraryMigrations(dialect) },
      migrationTableName: 'durable_jobs_migration',
      migrationLockTableName: 'durable_jobs_migration_lock',
    }),
  );
  if (app) {
    const migrations = app(dialect);
    await run(new Migrator({ db, provider: { getMigrations: async () => ({ ...migrations }) } }));
  }
}
