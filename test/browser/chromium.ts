// Where the browser suite finds Chromium and how it starts it. Debian's package, never a Playwright
// download (the machines have a closed network); the flags keep Chromium from phoning home.
// Playwright's launch() already gives every browser a fresh temporary profile (it refuses
// --user-data-dir in args), which is the isolation the suite needs.

import { existsSync } from 'node:fs';

export const CHROMIUM = process.env.FASTCONV_CHROMIUM ?? '/usr/bin/chromium';

export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export const LAUNCH_OPTIONS = { executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS };

export const chromiumInstalled = existsSync(CHROMIUM);

/** One line for the log when the suite cannot run; CI installs chromium, so there it is an error. */
export const MISSING_MESSAGE =
  `browser tests skipped: ${CHROMIUM} not found (apt-get install -y chromium)` +
  (process.env.CI ? ' - failing because CI is set' : '');
