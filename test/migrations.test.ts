import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import SQLite from 'better-sqlite3';
import { Kysely, Migrator, SqliteDialect, sql } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { EXPORT_SLICE_SIZE_DEFAULT, migrations } from '../activities/services/migrations';
import { migrateToLatest as migrateAll } from '../src/db/migrations';

/** The example application's own migrator (Kysely's default migration table). */
const createMigrator = (db: Kysely<any>, dialect: 'sqlite') =>
  new Migrator({ db, provider: { getMigrations: async () => ({ ...migrations(dialect) }) } });
const migrateToLatest = (db: Kysely<any>, dialect: 'sqlite') => migrateAll(db, dialect, migrations);

describe('migration 0006: exports.slice_size defaults to 1000', () => {
  let db: Kysely<any> | undefined;
  afterEach(() => db?.destroy());

  it('keeps every export and slice of a database made before it, and new exports get the new default', async () => {
    const sqlite = new SQLite(path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'migrations-')), 'app.sqlite'));
    sqlite.pragma('foreign_keys = ON');
    db = new Kysely<any>({ dialect: new SqliteDialect({ database: sqlite }) });
    const before = await createMigrator(db, 'sqlite').migrateTo('0005_alert_incidents');
    expect(before.error).toBeUndefined();
    const now = new Date().toISOString();
    const exportRow = { start_date: '2026-01-01', end_date: '2026-01-31', created_at: now, updated_at: now };
    await db
      .insertInto('exports')
      .values({ id: 7, ...exportRow, slice_size: 250, status: 'done' })
      .execute();
    await db
      .insertInto('exports')
      .values({ id: 8, ...exportRow })
      .execute();
    await db
      .insertInto('export_slices')
      .values({ export_id: 7, slice_no: 0, status: 'done', user_count: 2, content: 'a\nb\n', updated_at: now })
      .execute();

    await migrateToLatest(db, 'sqlite');

    const exports = await db.selectFrom('exports').select(['id', 'slice_size', 'status']).orderBy('id').execute();
    expect(exports).toEqual([
      { id: 7, slice_size: 250, status: 'done' },
      { id: 8, slice_size: 100, status: 'pending' }, // made under the old default: kept
    ]);
    expect(await db.selectFrom('export_slices').selectAll().execute()).toHaveLength(1);
    const inserted = await db
      .insertInto('exports')
      .values(exportRow)
      .returning(['id', 'slice_size'])
      .executeTakeFirstOrThrow();
    expect(inserted).toEqual({ id: 9, slice_size: EXPORT_SLICE_SIZE_DEFAULT });
    expect(EXPORT_SLICE_SIZE_DEFAULT).toBe(1000);
    // The slices' foreign key still points at the rebuilt table, and is enforced again.
    expect((await sql`PRAGMA foreign_key_check`.execute(db)).rows).toEqual([]);
    expect(sqlite.pragma('foreign_keys', { simple: true })).toBe(1);
    await expect(
      db
        .insertInto('export_slices')
        .values({ export_id: 999, slice_no: 0, status: 'done', user_count: 0, content: '', updated_at: now })
        .execute(),
    ).rejects.toThrow(/FOREIGN KEY/);
  });
});

describe("the library's queue_incidents migration (the application's 0007 before the split)", () => {
  let db: Kysely<any> | undefined;
  afterEach(() => db?.destroy());

  it('adds the table to a database made before it, with at most one open incident per kind and queue', async () => {
    const sqlite = new SQLite(path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'migrations-')), 'app.sqlite'));
    db = new Kysely<any>({ dialect: new SqliteDialect({ database: sqlite }) });
    // A database made before it: the application's tables up to 0006, and alert_incidents as its 0005 used to make it.
    expect((await createMigrator(db, 'sqlite').migrateTo('0006_export_slice_size_1000')).error).toBeUndefined();
    await sql`CREATE TABLE alert_incidents (id integer primary key autoincrement, job text not null, opened_at text not null,
      failure_rate real not null, notified_at text, closed_at text, recovery_notified_at text)`.execute(db);
    const now = new Date().toISOString();
    await db
      .insertInto('alert_incidents')
      .values({ job: 'invoice-generation', opened_at: now, failure_rate: 0.5 })
      .execute();

    await migrateToLatest(db, 'sqlite');

    expect(await db.selectFrom('alert_incidents').select('job').execute()).toEqual([{ job: 'invoice-generation' }]);
    const incident = { kind: 'no_worker', task_queue: 'jobs-low', opened_at: now, threshold_seconds: 70 };
    await db.insertInto('queue_incidents').values(incident).execute();
    // A second open one for the same kind and queue is refused; another kind, or after closing, is not.
    await expect(db.insertInto('queue_incidents').values(incident).execute()).rejects.toThrow(/UNIQUE/);
    await db
      .insertInto('queue_incidents')
      .values({ ...incident, kind: 'backlog_age', value_seconds: 400 })
      .execute();
    await db.updateTable('queue_incidents').set({ closed_at: now }).where('kind', '=', 'no_worker').execute();
    await db.insertInto('queue_incidents').values(incident).execute();
    expect(await db.selectFrom('queue_incidents').select(['kind', 'closed_at']).orderBy('id').execute()).toEqual([
      { kind: 'no_worker', closed_at: now },
      { kind: 'backlog_age', closed_at: null },
      { kind: 'no_worker', closed_at: null },
    ]);
  });
});

describe('migrating one new SQLite file from several processes', () => {
  it('waits for the process that holds the migration lock, then finds nothing left to do', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'migration-lock-'));
    const file = path.join(dir, 'app.sqlite');
    // Another process migrating: it holds the lock (this test's connection to the lock file).
    const lock = new SQLite(`${file}.migration-lock`);
    lock.exec('BEGIN EXCLUSIVE');
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        '-e',
        `const { openDatabase } = require(${JSON.stringify(path.resolve('src/db/database.ts'))});
         const { migrations } = require(${JSON.stringify(path.resolve('activities/services/migrations.ts'))});
         openDatabase({ sqlitePath: ${JSON.stringify(file)}, migrations }).then(async (db) => {
           await db.close();
           console.log('migrated');
         });`,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));

    // While the lock is held, the child runs no migration: the file has no table yet.
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    expect(child.exitCode, output).toBe(null);
    const tables = () =>
      new SQLite(file, { readonly: true, fileMustExist: false })
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'users'")
        .all();
    expect(fs.existsSync(file) ? tables() : []).toEqual([]);

    lock.exec('COMMIT');
    lock.close();
    expect(await exited, output).toBe(0);
    expect(output).toContain('migrated');
    expect(tables()).toEqual([{ name: 'users' }]);
  }, 60_000);
});
