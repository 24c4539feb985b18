import { createHash } from 'node:crypto';
import { ApplicationFailure, Context } from '@temporalio/activity';
import type { Database } from './services/schema';
import { recordNotFound, parseIsoDate } from 'durable-jobs';

export interface LargeDataExportDeps {
  db: Database;
  /** Called before a slice is exported, with its attempt number; tests use it to make slices fail. */
  beforeExportSlice?: (exportId: number, sliceNo: number, attempt: number) => void | Promise<void>;
  /** Called once a slice's part is written, with its attempt number; tests count the slices that ran to the end. */
  afterExportSlice?: (exportId: number, sliceNo: number, attempt: number) => void | Promise<void>;
}

/*
 * Every users query here walks the primary key (id ranges, ordered by id) and filters on created_at: an index on
 * created_at would tempt the planner into scanning the whole date range for each slice.
 */

/** A slice is a range of user ids holding at most `slice_size` matching users: ids travel, never the users. */
export interface SliceRange {
  sliceNo: number;
  fromUserId: number;
  toUserId: number;
}

export interface ExportPlan {
  totalUsers: number;
  sliceSize: number;
  onSliceFailure: 'fail' | 'complete';
}

export interface ExportResult {
  exportId: number;
  exportedUsers: number;
  failedSlices: number[];
  checksum: string;
  /** Slices found accounted for (done or failed) before finalizing; absent for runs that began before the check. */
  verifiedSlices?: number;
}

/** [from, until) ISO timestamps for an export's inclusive date range. */
function createdBetween(startDate: string, endDate: string): [string, string] {
  return [parseIsoDate(startDate).toISOString(), new Date(parseIsoDate(endDate).getTime() + 86_400_000).toISOString()];
}

export function createLargeDataExportActivities({ db, beforeExportSlice, afterExportSlice }: LargeDataExportDeps) {
  async function loadExport(exportId: number) {
    const row = await db.selectFrom('exports').selectAll().where('id', '=', exportId).executeTakeFirst();
    if (!row) throw recordNotFound('export', exportId);
    return row;
  }
  const setStatus = (exportId: number, values: Record<string, unknown>) =>
    db
      .updateTable('exports')
      .set({ ...values, updated_at: new Date().toISOString() })
      .where('id', '=', exportId)
      .execute();

  return {
    /** preparing → running: counts the users to export. */
    async prepareExport(exportId: number): Promise<ExportPlan> {
      const row = await loadExport(exportId);
      await setStatus(exportId, { status: 'preparing' });
      const [from, until] = createdBetween(row.start_date, row.end_date);
      const { n } = await db
        .selectFrom('users')
        .select(db.fn.countAll<number>().as('n'))
        .where('created_at', '>=', from)
        .where('created_at', '<', until)
        .executeTakeFirstOrThrow();
      await setStatus(exportId, { status: 'running', total_users: Number(n) });
      return { totalUsers: Number(n), sliceSize: Number(row.slice_size), onSliceFailure: row.on_slice_failure };
    },

    /** The next slices after `afterUserId`, by keyset pagination on user id. Empty when every user is planned. */
    async planSlices(
      exportId: number,
      afterUserId: number,
      firstSliceNo: number,
      maxSlices: number,
    ): Promise<SliceRange[]> {
      const row = await loadExport(exportId);
      const [from, until] = createdBetween(row.start_date, row.end_date);
      const ids = await db
        .selectFrom('users')
        .select('id')
        .where('created_at', '>=', from)
        .where('created_at', '<', until)
        .where('id', '>', afterUserId)
        .orderBy('id')
        .limit(maxSlices * Number(row.slice_size))
        .execute();
      const slices: SliceRange[] = [];
      for (let i = 0; i < ids.length; i += Number(row.slice_size)) {
        const chunk = ids.slice(i, i + Number(row.slice_size));
        slices.push({
          sliceNo: firstSliceNo + slices.length,
          fromUserId: chunk[0]!.id,
          toUserId: chunk[chunk.length - 1]!.id,
        });
      }
      return slices;
    },

    /** Writes one slice's part, replacing any earlier attempt's: a re-run slice never appends duplicates. */
    async exportSlice(exportId: number, slice: SliceRange): Promise<{ users: number }> {
      await beforeExportSlice?.(exportId, slice.sliceNo, Context.current().info.attempt);
      const row = await loadExport(exportId);
      const [from, until] = createdBetween(row.start_date, row.end_date);
      const users = await db
        .selectFrom('users')
        .select(['id', 'email', 'name', 'created_at'])
        .where('id', '>=', slice.fromUserId)
        .where('id', '<=', slice.toUserId)
        .where('created_at', '>=', from)
        .where('created_at', '<', until)
        .orderBy('id')
        .execute();
      const content = users.map((u) => `${u.id},${csv(u.email)},${csv(u.name)},${u.created_at}\n`).join('');
      const part = {
        status: 'done' as const,
        user_count: users.length,
        content,
        error: null,
        updated_at: new Date().toISOString(),
      };
      await db
        .insertInto('export_slices')
        .values({ export_id: exportId, slice_no: slice.sliceNo, ...part })
        .onConflict((oc) => oc.columns(['export_id', 'slice_no']).doUpdateSet(part))
        .execute();
      await afterExportSlice?.(exportId, slice.sliceNo, Context.current().info.attempt);
      return { users: users.length };
    },

    /** Records a slice that exhausted its retries, with its error. */
    async recordSliceFailure(exportId: number, sliceNo: number, error: string): Promise<void> {
      const part = {
        status: 'failed' as const,
        user_count: 0,
        content: '',
        error,
        updated_at: new Date().toISOString(),
      };
      await db
        .insertInto('export_slices')
        .values({ export_id: exportId, slice_no: sliceNo, ...part })
        .onConflict((oc) => oc.columns(['export_id', 'slice_no']).doUpdateSet(part))
        .execute();
    },

    /**
     * Before finalizing: every planned slice (0 … totalSlices - 1) has its part, done or failed. A slice the parent
     * counted as done in an earlier run whose part is gone (a database restored from a backup) would otherwise leave a
     * hole in a `done` export; instead the export fails, naming the slices, and is not retried (re-run the job).
     */
    async verifyExport(exportId: number, totalSlices: number): Promise<{ slices: number }> {
      const rows = await db
        .selectFrom('export_slices')
        .select('slice_no')
        .where('export_id', '=', exportId)
        .where('slice_no', '<', totalSlices)
        .execute();
      const present = new Set(rows.map((r) => Number(r.slice_no)));
      const missing: number[] = [];
      for (let s = 0; s < totalSlices && missing.length < 20; s++) if (!present.has(s)) missing.push(s);
      if (missing.length > 0) {
        const message =
          `export ${exportId}: ${totalSlices - present.size} of ${totalSlices} slices have no part ` +
          `(${missing.join(', ')}${totalSlices - present.size > missing.length ? ', …' : ''})`;
        await setStatus(exportId, { status: 'failed', error: message });
        throw ApplicationFailure.nonRetryable(message, 'ExportIncomplete');
      }
      return { slices: present.size };
    },

    /**
     * finalizing → done: compiles the slices, in order, into the final export's figures (users, failed slices, a
     * sha256 of the whole), reading them page by page so memory stays flat whatever the size.
     */
    async finalizeExport(exportId: number): Promise<ExportResult> {
      await loadExport(exportId);
      await setStatus(exportId, { status: 'finalizing' });
      const hash = createHash('sha256');
      let exportedUsers = 0;
      const failedSlices: number[] = [];
      for (let after = -1; ;) {
        const page = await db
          .selectFrom('export_slices')
          .select(['slice_no', 'status', 'user_count', 'content'])
          .where('export_id', '=', exportId)
          .where('slice_no', '>', after)
          .orderBy('slice_no')
          .limit(200)
          .execute();
        if (page.length === 0) break;
        for (const slice of page) {
          if (slice.status === 'failed') failedSlices.push(slice.slice_no);
          exportedUsers += Number(slice.user_count);
          hash.update(slice.content);
        }
        after = page[page.length - 1]!.slice_no;
        Context.current().heartbeat(after);
        // The export was cancelled (the heartbeat brought the request): stop reading; the row says `cancelled`.
        Context.current().cancellationSignal.throwIfAborted();
      }
      const checksum = hash.digest('hex');
      // Only from `finalizing`: an export cancelled meanwhile stays `cancelled`.
      await db
        .updateTable('exports')
        .set({
          status: 'done',
          exported_users: exportedUsers,
          failed_slices: JSON.stringify(failedSlices),
          checksum,
          updated_at: new Date().toISOString(),
        })
        .where('id', '=', exportId)
        .where('status', '=', 'finalizing')
        .execute();
      return { exportId, exportedUsers, failedSlices, checksum };
    },

    async markExportFailed(exportId: number, error: string): Promise<void> {
      await setStatus(exportId, { status: 'failed', error });
    },

    /**
     * → cancelled, once the export's job was cancelled and its slices in flight have closed. The parts of the slices
     * that were done are kept; `exported_users` counts their users. An export already done or failed stays so.
     */
    async markExportCancelled(exportId: number): Promise<{ exportedUsers: number; doneSlices: number }> {
      await loadExport(exportId);
      const { users, slices } = await db
        .selectFrom('export_slices')
        .select((eb) => [
          eb.fn.coalesce(eb.fn.sum<number>('user_count'), eb.lit(0)).as('users'),
          eb.fn.countAll<number>().as('slices'),
        ])
        .where('export_id', '=', exportId)
        .where('status', '=', 'done')
        .executeTakeFirstOrThrow();
      await db
        .updateTable('exports')
        .set({ status: 'cancelled', exported_users: Number(users), updated_at: new Date().toISOString() })
        .where('id', '=', exportId)
        .where('status', 'not in', ['done', 'failed'])
        .execute();
      return { exportedUsers: Number(users), doneSlices: Number(slices) };
    },
  };
}

function csv(value: string): string {
  return /[",\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}
