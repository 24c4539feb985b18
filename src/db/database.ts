import fs from 'node:fs';
import path from 'node:path';
import SQLite from 'better-sqlite3';
import { Kysely, PostgresDialect, SqliteDialect } from 'kysely';
import { Pool } from 'pg';
import { migrateToLatest, type Dialect } from './migrations';
import type { Database, Schema } from './schema';

export interface DatabaseOptions {
  /** PostgreSQL connection string; when absent, `sqlitePath` is used. */
  databaseUrl?: string;
  /** SQLite file, created with its directory if missing. */
  sqlitePath: string;
}

export interface OpenDatabase {
  db: Database;
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
  let db: Database;
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
    db = new Kysely<Schema>({ dialect: new PostgresDialect({ pool }) });
    location = options.databaseUrl.replace(/\/\/([^:@/]+):[^@/]*@/, '//$1:***@');
  } else {
    dialect = 'sqlite';
    fs.mkdirSync(path.dirname(options.sqlitePath), { recursive: true });
    const sqlite = new SQLite(options.sqlitePath, { timeout: 10_000 });
    sqlite.pragma('journal_mode = WAL');
    sqlite.pragma('foreign_keys = ON');
    db = new Kysely<Schema>({ dialect: new SqliteDialect({ database: sqlite }) });
    location = `sqlite:${options.sqlitePath}`;
  }
  try {
    await migrateToLatest(db, dialect);
  } catch (err) {
    await db.destroy();
    throw err;
  }
  return { db, dialect, location, close: () => db.destroy() };
}
