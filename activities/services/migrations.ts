import { sql, type Kysely, type Migration } from 'kysely';
import type { Dialect } from 'durable-jobs/worker';

/**
 * The application's tables (`Application.migrations`), in order. Each is written once for both dialects; `idColumn` is
 * the only place they differ. Never edit a migration that has shipped: add a new one.
 */
export function migrations(dialect: Dialect): Record<string, Migration> {
  const idType = dialect === 'postgres' ? 'serial' : 'integer';
  const id = (col: any) => (dialect === 'postgres' ? col.primaryKey() : col.primaryKey().autoIncrement());

  return {
    '0001_business_tables': {
      async up(db: Kysely<any>) {
        await db.schema
          .createTable('users')
          .addColumn('id', idType, id)
          .addColumn('email', 'text', (c) => c.notNull())
          .addColumn('name', 'text', (c) => c.notNull())
          .addColumn('created_at', 'text', (c) => c.notNull())
          .addColumn('welcome_email_sent_at', 'text')
          .execute();
        await db.schema
          .createTable('invoices')
          .addColumn('id', idType, id)
          .addColumn('user_id', 'integer', (c) => c.notNull().references('users.id'))
          .addColumn('amount_cents', 'integer', (c) => c.notNull())
          .addColumn('currency', 'text', (c) => c.notNull())
          .addColumn('created_at', 'text', (c) => c.notNull())
          .addColumn('generated_at', 'text')
          .execute();
        await db.schema
          .createTable('invoice_documents')
          .addColumn('id', idType, id)
          .addColumn('invoice_id', 'integer', (c) => c.notNull().references('invoices.id'))
          .addColumn('content', 'text', (c) => c.notNull())
          .addColumn('created_at', 'text', (c) => c.notNull())
          .execute();
        await db.schema
          .createIndex('invoice_documents_invoice_id')
          .on('invoice_documents')
          .column('invoice_id')
          .execute();
        await db.schema
          .createTable('reports')
          .addColumn('id', idType, id)
          .addColumn('user_id', 'integer', (c) => c.notNull().references('users.id'))
          .addColumn('report_type', 'text', (c) => c.notNull())
          .addColumn('start_date', 'text', (c) => c.notNull())
          .addColumn('end_date', 'text', (c) => c.notNull())
          .addColumn('content', 'text', (c) => c.notNull())
          .addColumn('created_at', 'text', (c) => c.notNull())
          .addUniqueConstraint('reports_one_per_range', ['user_id', 'report_type', 'start_date', 'end_date'])
          .execute();
      },
      async down(db: Kysely<any>) {
        for (const table of ['reports', 'invoice_documents', 'invoices', 'users'])
          await db.schema.dropTable(table).execute();
      },
    },
    '0002_webhook_payloads': {
      async up(db: Kysely<any>) {
        await db.schema
          .createTable('webhook_payloads')
          .addColumn('id', idType, id)
          .addColumn('data', 'text', (c) => c.notNull())
          .addColumn('status', 'text', (c) => c.notNull().defaultTo('pending'))
          .addColumn('result', 'text')
          .addColumn('last_error_type', 'text')
          .addColumn('last_error', 'text')
          .addColumn('created_at', 'text', (c) => c.notNull())
          .addColumn('updated_at', 'text', (c) => c.notNull())
          .execute();
        await db.schema.createIndex('webhook_payloads_status').on('webhook_payloads').column('status').execute();
      },
      async down(db: Kysely<any>) {
        await db.schema.dropTable('webhook_payloads').execute();
      },
    },
    '0003_exports': {
      async up(db: Kysely<any>) {
        await db.schema
          .createTable('exports')
          .addColumn('id', idType, id)
          .addColumn('start_date', 'text', (c) => c.notNull())
          .addColumn('end_date', 'text', (c) => c.notNull())
          .addColumn('slice_size', 'integer', (c) => c.notNull().defaultTo(100))
          .addColumn('on_slice_failure', 'text', (c) => c.notNull().defaultTo('complete'))
          .addColumn('status', 'text', (c) => c.notNull().defaultTo('pending'))
          .addColumn('total_users', 'integer')
          .addColumn('exported_users', 'integer')
          .addColumn('failed_slices', 'text')
          .addColumn('checksum', 'text')
          .addColumn('error', 'text')
          .addColumn('created_at', 'text', (c) => c.notNull())
          .addColumn('updated_at', 'text', (c) => c.notNull())
          .execute();
        await db.schema
          .createTable('export_slices')
          .addColumn('export_id', 'integer', (c) => c.notNull().references('exports.id'))
          .addColumn('slice_no', 'integer', (c) => c.notNull())
          .addColumn('status', 'text', (c) => c.notNull())
          .addColumn('user_count', 'integer', (c) => c.notNull())
          .addColumn('content', 'text', (c) => c.notNull())
          .addColumn('error', 'text')
          .addColumn('updated_at', 'text', (c) => c.notNull())
          .addPrimaryKeyConstraint('export_slices_pk', ['export_id', 'slice_no'])
          .execute();
      },
      async down(db: Kysely<any>) {
        await db.schema.dropTable('export_slices').execute();
        await db.schema.dropTable('exports').execute();
      },
    },
    '0004_payments_and_search_index': {
      async up(db: Kysely<any>) {
        await db.schema
          .createTable('payments')
          .addColumn('id', idType, id)
          .addColumn('user_id', 'integer', (c) => c.notNull().references('users.id'))
          .addColumn('amount_cents', 'integer', (c) => c.notNull())
          .addColumn('currency', 'text', (c) => c.notNull())
          .addColumn('status', 'text', (c) => c.notNull().defaultTo('pending'))
          .addColumn('charge_reference', 'text')
          .addColumn('charged_at', 'text')
          .addColumn('created_at', 'text', (c) => c.notNull())
          .execute();
        await db.schema
          .createTable('search_index')
          .addColumn('record_type', 'text', (c) => c.notNull())
          .addColumn('record_id', 'integer', (c) => c.notNull())
          .addColumn('document', 'text', (c) => c.notNull())
          .addColumn('indexed_at', 'text', (c) => c.notNull())
          .addPrimaryKeyConstraint('search_index_pk', ['record_type', 'record_id'])
          .execute();
      },
      async down(db: Kysely<any>) {
        await db.schema.dropTable('search_index').execute();
        await db.schema.dropTable('payments').execute();
      },
    },
    // Moved to the library's own migrations (src/db/migrations.ts, durable-jobs' 0001): kept by name, so databases
    // migrated before the move stay in step.
    '0005_alert_incidents': { async up() {} },
    // Measured (`bench batch`): 1,000-user slices export 1M users in a minute where 100-user slices took over six;
    // a slice is a child workflow, and at 100 users the server's per-workflow cost was the whole bill.
    '0006_export_slice_size_1000': {
      async up(db: Kysely<any>) {
        await setExportSliceSizeDefault(db, dialect, EXPORT_SLICE_SIZE_DEFAULT);
      },
      async down(db: Kysely<any>) {
        await setExportSliceSizeDefault(db, dialect, 100);
      },
    },
    // Queue backlog and worker alerts: their own table, keyed by kind and task queue (alert_incidents is per job).
    // Moved to the library's own migrations (durable-jobs' 0002), like 0005.
    '0007_queue_incidents': { async up() {} },
  };
}

/** Users per export slice when an export row does not say (`exports.slice_size`). */
export const EXPORT_SLICE_SIZE_DEFAULT = 1000;

/**
 * Changes the default of `exports.slice_size`. PostgreSQL alters the column; SQLite cannot, so the table is rebuilt the
 * way SQLite documents (new table, copy, drop, rename, with foreign keys off meanwhile: `export_slices` refers to it).
 * Rows keep their slice size; only rows inserted without one get the new default.
 */
async function setExportSliceSizeDefault(db: Kysely<any>, dialect: Dialect, size: number): Promise<void> {
  if (dialect === 'postgres') {
    await sql`ALTER TABLE exports ALTER COLUMN slice_size SET DEFAULT ${sql.lit(size)}`.execute(db);
    return;
  }
  await sql`PRAGMA foreign_keys = OFF`.execute(db);
  try {
    await db.schema
      .createTable('exports_rebuilt')
      .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
      .addColumn('start_date', 'text', (c) => c.notNull())
      .addColumn('end_date', 'text', (c) => c.notNull())
      .addColumn('slice_size', 'integer', (c) => c.notNull().defaultTo(size))
      .addColumn('on_slice_failure', 'text', (c) => c.notNull().defaultTo('complete'))
      .addColumn('status', 'text', (c) => c.notNull().defaultTo('pending'))
      .addColumn('total_users', 'integer')
      .addColumn('exported_users', 'integer')
      .addColumn('failed_slices', 'text')
      .addColumn('checksum', 'text')
      .addColumn('error', 'text')
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('updated_at', 'text', (c) => c.notNull())
      .execute();
    await sql`INSERT INTO exports_rebuilt SELECT * FROM exports`.execute(db);
    await db.schema.dropTable('exports').execute();
    await sql`ALTER TABLE exports_rebuilt RENAME TO exports`.execute(db);
  } finally {
    await sql`PRAGMA foreign_keys = ON`.execute(db);
  }
}
