import type { Generated, Kysely } from 'kysely';

/** Business state the jobs read and write. Timestamps are ISO strings so SQLite and PostgreSQL agree. */
export interface UsersTable {
  id: Generated<number>;
  email: string;
  name: string;
  created_at: string;
  welcome_email_sent_at: string | null;
}

export interface InvoicesTable {
  id: Generated<number>;
  user_id: number;
  amount_cents: number;
  currency: string;
  created_at: string;
  /** Set in the same transaction that stores the document: the idempotency guard. */
  generated_at: string | null;
}

/** One row per generated document. A unique invoice_id would hide a double generation; counting rows exposes it. */
export interface InvoiceDocumentsTable {
  id: Generated<number>;
  invoice_id: number;
  content: string;
  created_at: string;
}

export interface ReportsTable {
  id: Generated<number>;
  user_id: number;
  report_type: string;
  start_date: string;
  end_date: string;
  content: string;
  created_at: string;
}

export type WebhookStatus = 'pending' | 'processed' | 'dead';

export interface WebhookPayloadsTable {
  id: Generated<number>;
  /** The payload as received, JSON. */
  data: string;
  status: Generated<WebhookStatus>;
  /** The vendor's answer (JSON) once processed. */
  result: string | null;
  /** Why it is dead, or why the last attempt failed. */
  last_error_type: string | null;
  last_error: string | null;
  created_at: string;
  updated_at: string;
}

export type ExportStatus = 'pending' | 'preparing' | 'running' | 'finalizing' | 'done' | 'failed' | 'cancelled';

export interface ExportsTable {
  id: Generated<number>;
  /** Users created in [start_date, end_date] (ISO dates, inclusive) are exported. */
  start_date: string;
  end_date: string;
  /** Users per slice (one child workflow each). */
  slice_size: Generated<number>;
  /** What a slice that exhausted its retries does to the export: `fail` it, or `complete` with it listed. */
  on_slice_failure: Generated<'fail' | 'complete'>;
  status: Generated<ExportStatus>;
  total_users: number | null;
  exported_users: number | null;
  /** JSON array of slice numbers that failed, once finalized. */
  failed_slices: string | null;
  /** sha256 of the final export (the slices' content in slice order). */
  checksum: string | null;
  error: string | null;
  created_at: string;
  updated_at: string;
}

/** One slice's part of an export. Keyed by (export, slice): a re-run slice replaces its own part, never appends. */
export interface ExportSlicesTable {
  export_id: number;
  slice_no: number;
  status: 'done' | 'failed';
  user_count: number;
  /** CSV lines, one per user. */
  content: string;
  error: string | null;
  updated_at: string;
}

export interface PaymentsTable {
  id: Generated<number>;
  user_id: number;
  amount_cents: number;
  currency: string;
  status: Generated<'pending' | 'charged' | 'failed'>;
  /** The gateway's charge reference, once charged. */
  charge_reference: string | null;
  charged_at: string | null;
  created_at: string;
}

/** What search reads: one document per record, replaced on every re-index. */
export interface SearchIndexTable {
  record_type: 'user' | 'invoice';
  record_id: number;
  document: string;
  indexed_at: string;
}

export interface Schema {
  users: UsersTable;
  invoices: InvoicesTable;
  invoice_documents: InvoiceDocumentsTable;
  reports: ReportsTable;
  webhook_payloads: WebhookPayloadsTable;
  exports: ExportsTable;
  export_slices: ExportSlicesTable;
  payments: PaymentsTable;
  search_index: SearchIndexTable;
}

export type Database = Kysely<Schema>;
