import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { type Browser, chromium } from 'playwright-core';

/** Where the browser tests leave their screenshots (not committed; CI keeps them as artifacts). */
export const SCREENSHOTS = fileURLToPath(new URL('../../test-results/screenshots/', import.meta.url));

/** Debian's `chromium` first, then other usual names; DOOZER_CHROMIUM wins. */
const CANDIDATES = ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome', '/usr/bin/google-chrome-stable'];

/**
 * Launches the machine's own Chromium with playwright-core (which downloads no browser). A missing
 * one fails the suite with what to install: the browser tests are part of `npm test`, not optional.
 */
export async function launchChromium(): Promise<Browser> {
  const executablePath = process.env.DOOZER_CHROMIUM || CANDIDATES.find((path) => existsSync(path));
  if (!executablePath) {
    throw new Error(
      'The browser tests need Chromium and found none. Install it (Debian/Ubuntu: `sudo apt-get install -y chromium`; ' +
        '.ci/run does it when missing) or set DOOZER_CHROMIUM to a Chromium or Chrome executable.',
    );
  }
  await mkdir(SCREENSHOTS, { recursive: true });
  // No sandbox: CI runs as root, where Chromium's sandbox cannot start. The pages are our own.
  return chromium.launch({ executablePath, args: ['--no-sandbox'] });
}
