import fs from 'node:fs/promises';
import path from 'node:path';

export interface MailMessage {
  to: string;
  subject: string;
  text: string;
}

/**
 * Where email goes. Implementations must honour `idempotencyKey`: sending twice with one key delivers once, which is
 * what makes a retried send harmless (as SMTP APIs such as SES or Postmark do with their idempotency headers).
 */
export interface MailTransport {
  send(message: MailMessage, options: { idempotencyKey: string }): Promise<{ messageId: string; duplicate: boolean }>;
}

/**
 * Writes each message as a JSON file named by its idempotency key into an outbox directory, for development and
 * tests. The write is atomic (temp file, then rename), so a crash never leaves half a message.
 */
export class FileOutboxTransport implements MailTransport {
  constructor(readonly directory: string) {}

  async send(message: MailMessage, { idempotencyKey }: { idempotencyKey: string }) {
    const messageId = idempotencyKey.replace(/[^A-Za-z0-9._-]/g, '_');
    const file = path.join(this.directory, `${messageId}.json`);
    await fs.mkdir(this.directory, { recursive: true });
    try {
      await fs.access(file);
      return { messageId, duplicate: true };
    } catch {
      // not sent yet
    }
    const temp = `${file}.${process.pid}.${Date.now()}.tmp`;
    await fs.writeFile(temp, JSON.stringify({ ...message, idempotencyKey, sentAt: new Date().toISOString() }, null, 2));
    await fs.rename(temp, file);
    return { messageId, duplicate: false };
  }

  /** Messages in the outbox, oldest first. */
  async messages(): Promise<Array<MailMessage & { idempotencyKey: string; sentAt: string }>> {
    let names: string[];
    try {
      names = (await fs.readdir(this.directory)).filter((n) => n.endsWith('.json'));
    } catch {
      return [];
    }
    const all = await Promise.all(
      names.map(async (n) => JSON.parse(await fs.readFile(path.join(this.directory, n), 'utf8'))),
    );
    return all.sort((a, b) => a.sentAt.localeCompare(b.sentAt));
  }
}
