import type { Database } from './services/schema';
import { recordNotFound } from 'durable-jobs';
import type { MailTransport } from './services/mail';

export interface SendWelcomeEmailDeps {
  db: Database;
  mail: MailTransport;
}

export function createSendWelcomeEmailActivities({ db, mail }: SendWelcomeEmailDeps) {
  return {
    /**
     * Reads the user fresh (their address may have changed since enqueue), sends with an idempotency key so a retry
     * after a crash between send and mark delivers once, then marks the user.
     */
    async sendWelcomeEmail(userId: number): Promise<{ messageId: string; alreadySent: boolean }> {
      const user = await db
        .selectFrom('users')
        .select(['id', 'email', 'name', 'welcome_email_sent_at'])
        .where('id', '=', userId)
        .executeTakeFirst();
      if (!user) throw recordNotFound('user', userId);
      const idempotencyKey = `welcome-email/${userId}`;
      if (user.welcome_email_sent_at) return { messageId: idempotencyKey, alreadySent: true };
      const sent = await mail.send(
        { to: user.email, subject: `Welcome, ${user.name}!`, text: `Hi ${user.name}, thanks for signing up.` },
        { idempotencyKey },
      );
      await db
        .updateTable('users')
        .set({ welcome_email_sent_at: new Date().toISOString() })
        .where('id', '=', userId)
        .where('welcome_email_sent_at', 'is', null)
        .execute();
      return { messageId: sent.messageId, alreadySent: sent.duplicate };
    },
  };
}
