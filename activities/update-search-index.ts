import type { Database } from './services/schema';

export interface UpdateSearchIndexDeps {
  db: Database;
  /** Extra time each search-index update takes; tests and benchmarks make the low queue slow with it. */
  searchIndexDelayMs?: number;
  /** Called when a search-index update starts; tests record the order jobs start in. */
  onSearchIndexStarted?: (recordType: string, recordId: number) => void;
}

export function createUpdateSearchIndexActivities({
  db,
  searchIndexDelayMs,
  onSearchIndexStarted,
}: UpdateSearchIndexDeps) {
  return {
    /** Reads the record fresh and replaces its search document: re-indexing twice leaves one document. */
    async updateSearchIndex(recordType: 'user' | 'invoice', recordId: number): Promise<{ indexed: boolean }> {
      onSearchIndexStarted?.(recordType, recordId);
      if (searchIndexDelayMs) await new Promise((r) => setTimeout(r, searchIndexDelayMs));
      const document =
        recordType === 'user'
          ? await db.selectFrom('users').select(['name', 'email']).where('id', '=', recordId).executeTakeFirst()
          : await db
              .selectFrom('invoices')
              .select(['amount_cents', 'currency', 'generated_at'])
              .where('id', '=', recordId)
              .executeTakeFirst();
      if (!document) {
        await db
          .deleteFrom('search_index')
          .where('record_type', '=', recordType)
          .where('record_id', '=', recordId)
          .execute();
        return { indexed: false }; // deleted since enqueue: drop it from the index
      }
      const row = { document: JSON.stringify(document), indexed_at: new Date().toISOString() };
      await db
        .insertInto('search_index')
        .values({ record_type: recordType, record_id: recordId, ...row })
        .onConflict((oc) => oc.columns(['record_type', 'record_id']).doUpdateSet(row))
        .execute();
      return { indexed: true };
    },
  };
}
