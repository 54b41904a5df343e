// Node side of the e2e browser tests: one Chromium per test file, pages that fail loudly (uncaught
// errors and console errors become test failures instead of silent blank canvases).

import type { Browser, Page } from 'playwright-core';
import { chromium } from 'playwright-core';
import { LAUNCH_OPTIONS } from './chromium.js';

export async function launchChromium(): Promise<Browser> {
  return chromium.launch(LAUNCH_OPTIONS);
}

/** A new page whose uncaught exceptions and console errors are collected in `errors`. */
export async function openPage(browser: Browser, url: string): Promise<{ page: Page; errors: string[] }> {
  const page = await browser.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(`uncaught: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(`console.error: ${m.text()} (${m.location().url})`);
  });
  await page.goto(url);
  return { page, errors };
}
