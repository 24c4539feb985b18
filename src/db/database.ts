import fs from 'node:fs';
import path from 'node:path';
import SQLite from 'better-sqlite3';
import { Kysely, PostgresDialect, SqliteDialect } from 'kysely';
import { Pool } from 'pg';
import { migrateToLatest, type AppMigrations, type Dialect } from './migrations';

export interface DatabaseOptions {
  /** PostgreSQL connection string; when absent, `sqlitePath` is used. */
  databaseUrl?: string;
  /** SQLite file, created with its directory if missing. */
  sqlitePath: string;
  /** The application's migrations, run after the library's own. @default none */
  migrations?: AppMigrations;
}

export interface OpenDatabase {
  /** The application database: the application's tables and the library's (`LibrarySchema`). */
  db: Kysely<any>;
  dialect: Dialect;
  /** Where the data lives, for messages (`sqlite:/path` or the PostgreSQL URL without password). */
  location: string;
  close(): Promise<void>;
}

/**
 * Opens the business database — PostgreSQL when a URL is given, else a SQLite file — and migrates it.
 * SQLite runs in WAL mode with a busy timeout so several worker processes can share one file.
 */
export async function openDatabase(options: DatabaseOptions): Promise<OpenDatabase> {
  let db: Kysely<any>;
  let dialect: Dialect;
  let location: string;
  if (options.databaseUrl) {
    dialect = 'postgres';
    const pool = new Pool({ connectionString: options.databaseUrl, max: 10 });
    // An idle connection that PostgreSQL closes (a restart, a failover: 57P01) is dropped by the pool, which then emits
    // 'error'; without a listener that is an uncaught exception and the whole worker process dies. The next query
    // opens a new connection; a query that was running fails and its activity retries.
    // A connection checked out of the pool (kysely holds one through a transaction, between its statements) has no
    // listener of the pool's: the same close there is emitted on the client, and would kill the process just the same.
    // Its query fails (the activity retries) and the pool drops the connection when it is released.
    pool.on('connect', (client) => client.on('error', () => undefined));
    pool.on('error', (err) =>
      process.stderr.write(
        `database: an idle PostgreSQL connection was closed (${err.message}); reconnecting on use\n`,
      ),
    );
    db = new Kysely<any>({ dialect: new PostgresDialect({ pool }) });
    location = options.databaseUrl.replace(/\/\/([^:@/]+):[^@/]*@/, '//$1:***@');
  } else {
    dialect = 'sqlite';
    fs.mkdirSync(path.dirname(options.sqlitePath), { recursive: true });
    const sqlite = new SQLite(options.sqlitePath, { timeout: 10_000 });
    sqlite.pragma('journal_mode = WAL');
    sqlite.pragma('foreign_keys = ON');
    db = new Kysely<any>({ dialect: new SqliteDialect({ database: sqlite }) });
    location = `sqlite:${options.sqlitePath}`;
  }
  try {
    if (dialect === 'sqlite')
      await withSqliteMigrationLock(options.sqlitePath, () => migrateToLatest(db, dialect, options.migrations));
    else await migrateToLatest(db, dialect, options.migrations); // Kysely takes a PostgreSQL advisory lock itself
  } catch (err) {
    await db.destroy();
    throw err;
  }
  return { db, dialect, location, close: () => db.destroy() };
}

/**
 * Runs `migrate` while holding an exclusive lock on `<file>.migration-lock`, a SQLite file of its own: worker processes
 * started together on one new database file would otherwise both find a migration pending and both run it (Kysely
 * takes no lock for SQLite, which it assumes has one connection). A lock on the database file itself would block the
 * migration's own connection, hence the separate file. Waits up to two minutes for another process's migrations.
 */
async function withSqliteMigrationLock<T>(sqlitePath: string, migrate: () => Promise<T>): Promise<T> {
  const lock = new SQLite(`${sqlitePath}.migration-lock`, { timeout: 120_000 });
  try {
    lock.exec('BEGIN EXCLUSIVE');
    try {
      return await migrate();
    } finally {
      lock.exec('COMMIT');
    }
  } finally {
    lock.close();
  }
}
