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

export interface Schema {
  users: UsersTable;
  invoices: InvoicesTable;
  invoice_documents: InvoiceDocumentsTable;
  reports: ReportsTable;
  webhook_payloads: WebhookPayloadsTable;
}

export type Database = Kysely<Schema>;
