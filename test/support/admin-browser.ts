/**
 * One admin test file's browser: Debian's chromium driven by playwright-core (never a downloaded browser), a real
 * gateway (worker on, sending to the built-in capture) and an operator to log in as. Screenshots go to the
 * gitignored test/artifacts/.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import type { CallContext } from '../../src/core/context.js';
import { startTestGateway, type TestGateway } from './gateway.js';

export const CHROMIUM = '/usr/bin/chromium';
export const ARTIFACTS = path.resolve(import.meta.dirname, '../artifacts');
export const LOGIN = 'ops';
export const PASSWORD = 'correct horse battery';
/** How long a browser step may wait for what the page shows (a bound for loaded machines, never a wait). */
export const LONG = 30_000;

export interface AdminBrowser {
  gw: TestGateway;
  browser: Browser;
  context: BrowserContext;
  page: Page;
  /** The test gateway's account `acme`. */
  acme: CallContext;
  logIn(p?: Page, login?: string, password?: string): Promise<void>;
  shot(name: string, p?: Page): Promise<void>;
  close(): Promise<void>;
}

export async function openAdminBrowser(opts: { env?: Record<string, string> } = {}): Promise<AdminBrowser> {
  assert.ok(existsSync(CHROMIUM), 'chromium is installed (apt-get install chromium; .ci/run does it)');
  await mkdir(ARTIFACTS, { recursive: true });
  const gw = await startTestGateway({ worker: true, env: opts.env });
  const acme = { accountId: (await gw.services.store.accounts.bySlug('acme'))!.id, requestId: 't' };
  await gw.core.operators.create(LOGIN, PASSWORD);
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  context.setDefaultTimeout(LONG);
  const page = await context.newPage();
  page.on('dialog', (d) => void d.accept());
  const logIn = async (p: Page = page, login = LOGIN, password = PASSWORD) => {
    await p.goto(`${gw.url}/admin/login`);
    await p.fill('input[name=login]', login);
    await p.fill('input[name=password]', password);
    await p.click('button[type=submit]');
  };
  const shot = async (name: string, p: Page = page) => {
    await p.screenshot({ path: path.join(ARTIFACTS, `${name}.png`), fullPage: true });
  };
  return {
    gw,
    browser,
    context,
    page,
    acme,
    logIn,
    shot,
    close: async () => {
      await browser.close();
      await gw.stop();
    },
  };
}
