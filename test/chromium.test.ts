import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { afterAll, describe, expect, it } from 'vitest';
import { CHROMIUM_PACKAGE_VERSION, chromiumCacheDir, chromiumExecutable } from './chromium';

/**
 * The Chromium a fresh machine gets for the Web UI tests, provisioned here into an empty cache of its own (npm's cache
 * serves the package after the first time; unpacking takes seconds). Linux x64 only: elsewhere it is CHROMIUM_PATH.
 */
describe.runIf(process.platform === 'linux' && process.arch === 'x64')('the pinned Chromium', () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'durable-jobs-chromium-'));
  afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

  /** This machine's environment with an empty cache and no CHROMIUM_PATH: whatever Chromium it has is not asked for. */
  function freshEnv(name: string): NodeJS.ProcessEnv {
    const { CHROMIUM_PATH: _, ...env } = process.env;
    return { ...env, DURABLE_JOBS_CACHE_DIR: path.join(root, name) };
  }

  it('is downloaded into the per-user cache, once when two test files ask at the same time, and renders a page', async () => {
    const env = freshEnv('fresh');
    const lines: string[] = [];
    const log = (line: string) => lines.push(line);
    const [first, second] = await Promise.all([chromiumExecutable({ env, log }), chromiumExecutable({ env, log })]);

    const dir = chromiumCacheDir(env);
    expect(first).toBe(path.join(dir, 'chromium'));
    expect(second).toBe(first);
    // What is downloaded and where, said before it happens; no half-unpacked copy is left behind.
    expect(lines).toContainEqual(
      expect.stringMatching(
        /^Chromium for the Web UI tests: downloading @sparticuz\/chromium@153\.0\.0 with npm .* into /,
      ),
    );
    expect(lines.some((line) => line.includes(dir))).toBe(true);
    expect(fs.readdirSync(path.dirname(dir))).toEqual([CHROMIUM_PACKAGE_VERSION]);

    // NSS comes from the package, not from the system (a fresh Debian has none).
    const loaded = spawnSync(first, ['--version'], { env: { ...env, LD_DEBUG: 'libs' }, encoding: 'utf8' });
    expect(loaded.stdout).toMatch(/^Chromium 153\./);
    expect(loaded.stderr).toContain(`calling init: ${dir}/al2023/lib/libnss3.so`);

    // The Web UI tests read the page's text: that needs the package's font, found through the launcher's fontconfig.
    const browser = await chromium.launch({ executablePath: first, args: ['--no-sandbox', '--disable-gpu'] });
    try {
      expect(browser.version()).toMatch(/^153\./);
      const page = await browser.newPage();
      await page.setContent('<p id="text">Completed</p><iframe srcdoc="<b>inside a frame</b>"></iframe>');
      expect(await page.innerText('#text')).toBe('Completed');
      expect(await page.frames()[1]!.innerText('b')).toBe('inside a frame');
    } finally {
      await browser.close();
    }
  }, 300_000);

  it('refuses a download whose integrity is not the pinned one, and leaves nothing in the cache', async () => {
    const env = freshEnv('tampered');
    const integrity = `sha512-${Buffer.alloc(64).toString('base64')}`;
    await expect(chromiumExecutable({ env, integrity, log: () => {} })).rejects.toThrow(
      /@sparticuz\/chromium@153\.0\.0: the download's integrity is sha512-jiGW.*, not the pinned sha512-AAAA/,
    );
    expect(fs.readdirSync(path.dirname(chromiumCacheDir(env)))).toEqual([]);
  }, 300_000);

  it('takes CHROMIUM_PATH as it is, downloading nothing', async () => {
    const env = { ...freshEnv('own'), CHROMIUM_PATH: process.execPath };
    await expect(chromiumExecutable({ env, log: (line) => expect.fail(line) })).resolves.toBe(process.execPath);
    expect(fs.existsSync(path.dirname(chromiumCacheDir(env)))).toBe(false);
  });
});
