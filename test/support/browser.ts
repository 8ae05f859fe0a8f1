import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';

/**
 * Headless Chromium for the portal tests: Debian's `chromium` package driven by playwright-core
 * (no browser download). Where it is missing the browser tests are skipped with a warning,
 * unless REQUIRE_BROWSER is set (CI sets it after installing the package), then they fail.
 */

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const browserAvailable = existsSync(CHROMIUM_PATH);

/** Where the tests save screenshots of the main screens. */
export const SCREENSHOT_DIR = join(__dirname, '..', '..', 'test-results', 'portal');

export function describeWithBrowser(name: string, body: () => void): void {
  if (!browserAvailable && process.env.REQUIRE_BROWSER) {
    throw new Error(`REQUIRE_BROWSER is set but ${CHROMIUM_PATH} is missing: apt-get install chromium`);
  }
  if (!browserAvailable) {
    console.warn(`Skipping "${name}": ${CHROMIUM_PATH} is missing (apt-get install chromium, or set CHROMIUM_PATH).`);
    describe.skip(name, body);
    return;
  }
  describe(name, body);
}

export async function launchBrowser(): Promise<Browser> {
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    // The machines have no internet: without these, Chromium keeps trying to reach Google.
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
}
