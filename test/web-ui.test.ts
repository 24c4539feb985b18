import fs from 'node:fs';
import path from 'node:path';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { freePort, startDevServer, type DevServer } from '../src/dev-server';
import { dataConverterFor, EncryptionCodec, Keyring } from '../src/encryption';
import { buildHttpService } from '../src/http/server';
import { chromiumExecutable } from './chromium';
import { invoiceGeneration, processWebhook } from './jobs';
import { createHarness, type Harness } from './harness';

const ARTIFACTS = path.resolve('test/.artifacts');
/** The Web UI is a single-page app: the first load fetches its JavaScript and then asks the server over HTTP. */
const UI_TIMEOUT_MS = 20_000;

/**
 * The Temporal Web UI in a real browser. The suite's shared dev server is headless, so this file starts its own with
 * the Web UI, runs a completed invoice and a dead-lettered webhook on it, and has headless Chromium open both runs by
 * workflow ID, as a person following `jobctl status` would.
 */
describe('the Temporal Web UI in headless Chromium', () => {
  let server: DevServer | undefined;
  let env: TestWorkflowEnvironment | undefined;
  let h: Harness | undefined;
  let browser: Browser | undefined;
  let page: Page;
  let uiUrl: string;
  let invoiceWorkflowId: string;
  let webhookWorkflowId: string;
  let invoiceId: number;
  let http: FastifyInstance | undefined;
  /** Requests the browser made to the codec endpoint. */
  const codecRequests: string[] = [];
  let chromiumPath: string;

  // CHROMIUM_PATH, or the pinned build, downloaded into the per-user cache the first time (test/chromium.ts).
  beforeAll(async () => {
    chromiumPath = await chromiumExecutable();
  }, 600_000);

  beforeAll(async () => {
    // Every payload on this server is encrypted; the Web UI decrypts through the HTTP service's codec endpoint.
    const keyring = Keyring.parse(Keyring.generate('ui-test'));
    const token = randomBytes(24).toString('base64url');
    const httpPort = await freePort();
    server = await startDevServer({
      port: 0,
      uiPort: 0,
      uiCodecEndpoint: `http://127.0.0.1:${httpPort}/codec/${token}`,
    });
    uiUrl = server.uiUrl!;
    env = await TestWorkflowEnvironment.createFromExistingServer({
      address: server.address,
      client: { dataConverter: dataConverterFor(keyring) },
    });
    h = await createHarness({ env, encryption: keyring });
    await h.startWorkers(['default']);
    http = buildHttpService(h.client, {
      codec: { codec: new EncryptionCodec(keyring), token, corsOrigins: [new URL(uiUrl).origin] },
    });
    http.addHook(
      'onRequest',
      async (request) => void (request.method === 'POST' && codecRequests.push(request.url.replace(token, '<token>'))),
    );
    await http.listen({ port: httpPort, host: '127.0.0.1' });

    ({ invoiceId } = await h.createInvoice());
    const webhookPayloadId = await h.createWebhook();
    // The vendor rejects the payload with 4xx twice: retried once after 10 s, then discarded (a dead letter).
    h.vendor.script(`webhook-payload/${webhookPayloadId}`, ['client_error', 'client_error']);
    const [webhook, invoice] = await Promise.all([
      h.client.enqueue(processWebhook, { webhookPayloadId }),
      h.client.enqueue(invoiceGeneration, { invoiceId }),
    ]);
    webhookWorkflowId = webhook.workflowId;
    invoiceWorkflowId = invoice.workflowId;

    // The browser starts while the webhook waits out its retry delay.
    const launched = chromium.launch({
      executablePath: chromiumPath,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
    try {
      await env.client.workflow.getHandle(invoiceWorkflowId).result();
      await expect(env.client.workflow.getHandle(webhookWorkflowId).result()).rejects.toMatchObject({
        cause: { type: 'ClientError', message: expect.stringMatching(/discarded after attempt 2/) },
      });
    } finally {
      browser = await launched;
    }
    page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    page.setDefaultTimeout(UI_TIMEOUT_MS);
    fs.mkdirSync(ARTIFACTS, { recursive: true });
  }, 90_000);

  afterAll(async () => {
    try {
      await browser?.close();
      await http?.close();
      await h?.close();
    } finally {
      await env?.teardown();
      await server?.stop();
    }
  });

  /** Opens a run by workflow ID alone; the UI redirects to the latest run's history page. */
  async function openRun(workflowId: string) {
    await page.goto(`${uiUrl}/namespaces/default/workflows/${encodeURIComponent(workflowId)}`, {
      waitUntil: 'domcontentloaded',
    });
    const heading = page.getByTestId('workflow-id-heading');
    await heading.waitFor();
    // The run page's header holds the status badge and the workflow ID heading.
    const header = page.locator('header', { has: heading });
    return { heading, header };
  }

  async function screenshot(name: string) {
    const file = path.join(ARTIFACTS, name);
    fs.rmSync(file, { force: true });
    await page.screenshot({ path: file });
    expect(fs.statSync(file).size).toBeGreaterThan(10_000);
  }

  it('shows the completed invoice run, opened by its workflow ID', async () => {
    const { heading, header } = await openRun(invoiceWorkflowId);

    const runId = (await env!.client.workflow.getHandle(invoiceWorkflowId).describe()).runId;
    expect(page.url()).toBe(
      `${uiUrl}/namespaces/default/workflows/${encodeURIComponent(invoiceWorkflowId)}/${runId}/history`,
    );
    expect((await heading.innerText()).trim()).toBe(invoiceWorkflowId);
    await header.getByText('Completed', { exact: true }).waitFor();
    expect(await header.getByText('Failed', { exact: true }).count()).toBe(0);
    await page.getByText('invoiceGenerationWorkflow', { exact: true }).first().waitFor();
    await screenshot('web-ui-invoice.png');
  });

  it('shows the encrypted invoice decrypted, through the codec endpoint', async () => {
    // The server holds ciphertext (test/payload-encryption.test.ts); the page shows the job's arguments.
    const { history } = await env!.client.workflowService.getWorkflowExecutionHistory({
      namespace: 'default',
      execution: { workflowId: invoiceWorkflowId },
    });
    const input = history!.events![0]!.workflowExecutionStartedEventAttributes!.input!.payloads![0]!;
    expect(Buffer.from(input.metadata!.encoding!).toString()).toBe('binary/encrypted');

    await openRun(invoiceWorkflowId);
    // The Input and Result panes, as JSON decoded by the codec endpoint the dev server gave the UI.
    await page.getByText(`"invoiceId": ${invoiceId}`).first().waitFor();
    await page.getByText('"documentId"').first().waitFor();
    const shown = await page.innerText('main');
    expect(shown).not.toContain('binary/encrypted');
    expect(codecRequests).toContain('/codec/<token>/decode');
    await screenshot('web-ui-decrypted.png');
  });

  it('shows the failed webhook run with the error that discarded it', async () => {
    const { heading, header } = await openRun(webhookWorkflowId);

    expect((await heading.innerText()).trim()).toBe(webhookWorkflowId);
    await header.getByText('Failed', { exact: true }).waitFor();
    expect(await header.getByText('Completed', { exact: true }).count()).toBe(0);
    // The workflow's failure, in the Result pane and the last history event.
    await page
      .getByText(/discarded after attempt 2/)
      .first()
      .waitFor();
    expect(await page.content()).toContain('ClientError');
    await screenshot('web-ui-webhook.png');
  });

  it('lists both runs with their status on the workflows page', async () => {
    const rows = page.getByTestId('workflows-summary-configurable-table-row');
    const rowOf = (workflowId: string) =>
      rows.filter({ has: page.getByRole('link', { name: workflowId, exact: true }) });
    // The list comes from the visibility store, which may trail the runs' completion by a moment.
    const deadline = Date.now() + UI_TIMEOUT_MS;
    for (;;) {
      await page.goto(`${uiUrl}/namespaces/default/workflows`, { waitUntil: 'domcontentloaded' });
      await rows.first().waitFor();
      if ((await rowOf(invoiceWorkflowId).count()) === 1 && (await rowOf(webhookWorkflowId).count()) === 1) break;
      if (Date.now() > deadline)
        throw new Error(`the workflow list does not show both runs:\n${await page.innerText('main')}`);
      await page.waitForTimeout(500);
    }

    const html = await page.content();
    expect(html).toContain(invoiceWorkflowId);
    expect(html).toContain(webhookWorkflowId);
    await rowOf(invoiceWorkflowId).getByText('Completed', { exact: true }).waitFor();
    await rowOf(webhookWorkflowId).getByText('Failed', { exact: true }).waitFor();
  });

  it("filters the workflow list by JobName, typed into the list's query box, and shows only that job's runs", async () => {
    // A second invoice, so the filter has more than one run to show; the webhook run is another job's.
    const second = await h!.client.enqueue(invoiceGeneration, { invoiceId: (await h!.createInvoice()).invoiceId });
    await env!.client.workflow.getHandle(second.workflowId).result();
    const expected = [invoiceWorkflowId, second.workflowId].sort();

    const rows = page.getByTestId('workflows-summary-configurable-table-row');
    const listed = async () =>
      (await rows.getByRole('link').allInnerTexts()).map((t) => t.trim()).filter((t) => t.includes('/'));
    // As a person does: the list page, the raw-query toggle beside the filter bar, a query, Enter. Visibility may trail
    // the second run by a moment: then the page is loaded and the query typed again.
    const deadline = Date.now() + UI_TIMEOUT_MS;
    let shown: string[] = [];
    for (;;) {
      await page.goto(`${uiUrl}/namespaces/default/workflows`, { waitUntil: 'domcontentloaded' });
      await rows.first().waitFor();
      await page.getByTestId('toggle-manual-query').click();
      const query = page.getByTestId('manual-search-input');
      await query.fill(`JobName = "invoice-generation"`);
      await query.press('Enter');
      await page.waitForURL(/[?&]query=JobName/);
      await rows.first().waitFor();
      // The list re-renders once the filtered answer is in: wait until the webhook run is gone from it.
      await page
        .getByRole('link', { name: webhookWorkflowId, exact: true })
        .waitFor({ state: 'detached' })
        .catch(() => undefined);
      shown = (await listed()).sort();
      if (shown.length === expected.length || Date.now() > deadline) break;
      await page.waitForTimeout(500);
    }
    expect(new URL(page.url()).searchParams.get('query')).toBe('JobName = "invoice-generation"');
    expect(shown).toEqual(expected);
    expect(await page.getByRole('link', { name: webhookWorkflowId, exact: true }).count()).toBe(0);
    await screenshot('web-ui-filtered-by-job.png');
  });

  it("shows the run's summary on its page: what the run is", async () => {
    await openRun(invoiceWorkflowId);
    const summary = `invoice-generation · invoice ${invoiceId}`;
    // The summary is a payload, so it is encrypted here: the page shows it decoded by the codec endpoint, in the
    // start event's details and on the run's User Metadata tab.
    await page.getByText(summary, { exact: true }).first().waitFor();
    await page.getByText('User Metadata', { exact: true }).click();
    await page.waitForURL(/\/user-metadata$/);
    // The tab renders the summary as Markdown, in a sandboxed frame of its own.
    await page.locator('main iframe').first().contentFrame().getByText(summary, { exact: true }).waitFor();
    await screenshot('web-ui-summary.png');
  });
});
