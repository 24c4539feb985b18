import fs from 'node:fs';
import path from 'node:path';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDevServer, type DevServer } from '../src/dev-server';
import { dataConverterFor, Keyring } from '../src/encryption';
import { chromiumExecutable } from './chromium';
import { invoiceGeneration } from './jobs';
import { createHarness, type Harness } from './harness';

const ARTIFACTS = path.resolve('test/.artifacts');

/**
 * The other half of test/web-ui.test.ts: a Web UI given no codec endpoint shows an encrypted run's input as the
 * ciphertext the server holds, never the job's arguments.
 */
describe('the Web UI without the codec endpoint', () => {
  let server: DevServer | undefined;
  let env: TestWorkflowEnvironment | undefined;
  let h: Harness | undefined;
  let browser: Browser | undefined;
  let chromiumPath: string;

  // CHROMIUM_PATH, or the pinned build, downloaded into the per-user cache the first time (test/chromium.ts).
  beforeAll(async () => {
    chromiumPath = await chromiumExecutable();
  }, 600_000);

  beforeAll(async () => {
    const keyring = Keyring.parse(Keyring.generate('ui-no-codec'));
    server = await startDevServer({ port: 0, uiPort: 0, log: () => {} });
    env = await TestWorkflowEnvironment.createFromExistingServer({
      address: server.address,
      client: { dataConverter: dataConverterFor(keyring) },
    });
    h = await createHarness({ env, encryption: keyring });
    await h.startWorkers(['default']);
    browser = await chromium.launch({
      executablePath: chromiumPath,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'],
    });
  }, 90_000);
  afterAll(async () => {
    try {
      await browser?.close();
      await h?.close();
    } finally {
      await env?.teardown();
      await server?.stop();
    }
  });

  it('shows an encrypted run’s input and result as ciphertext, never the job’s arguments or result', async () => {
    const { invoiceId } = await h!.createInvoice();
    const { workflowId } = await h!.client.enqueue(invoiceGeneration, { invoiceId });
    await env!.client.workflow.getHandle(workflowId).result();

    const page = await browser!.newPage({ viewport: { width: 1400, height: 1000 } });
    page.setDefaultTimeout(20_000);
    await page.goto(`${server!.uiUrl}/namespaces/default/workflows/${encodeURIComponent(workflowId)}`, {
      waitUntil: 'domcontentloaded',
    });
    await page.getByTestId('workflow-id-heading').waitFor();
    // The Input and Result panes show the stored payloads as the UI got them: metadata and data base64-encoded.
    const encryptedEncoding = Buffer.from('binary/encrypted').toString('base64');
    await page.getByText(`"encoding": "${encryptedEncoding}"`).first().waitFor();
    const shown = await page.innerText('main');
    expect(shown.split(encryptedEncoding).length - 1).toBeGreaterThanOrEqual(2); // input and result
    expect(shown).toContain(Buffer.from('ui-no-codec').toString('base64')); // the key id, not the key
    expect(shown).not.toContain('invoiceId');
    expect(shown).not.toContain('documentId');
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: path.join(ARTIFACTS, 'web-ui-without-codec.png') });
  });
});
