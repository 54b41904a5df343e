// The browser suite, two projects:
//   page  - vitest browser mode: test files run inside Chromium (wasm variants vs the float64
//           reference and the golden vectors, in the page's own engine);
//   e2e   - node tests driving Chromium with playwright-core: the demo page served with COOP/COEP,
//           a Vite consumer app, the payload size.
// The files are named *.page.ts and *.e2e.ts, not *.test.ts, so the node suite (test/**/*.test.ts)
// does not collect them.
// Without Chromium the suite prints one line and passes, except under CI (which installs Chromium):
// a developer machine without a browser should still run `npm test`, CI must not silently skip.

import { fileURLToPath } from 'node:url';
import { playwright } from '@vitest/browser-playwright';
import { defineConfig } from 'vitest/config';
import { chromiumInstalled, LAUNCH_OPTIONS, MISSING_MESSAGE } from './browser/chromium.js';

const root = fileURLToPath(new URL('..', import.meta.url));

if (!chromiumInstalled) console.log(MISSING_MESSAGE);

export default defineConfig({
  root,
  test: chromiumInstalled
    ? {
        testTimeout: 120_000,
        hookTimeout: 120_000,
        projects: [
          {
            root,
            test: {
              name: 'page',
              include: ['test/browser/page/**/*.page.ts'],
              testTimeout: 120_000,
              browser: {
                enabled: true,
                headless: true,
                provider: playwright({ launchOptions: LAUNCH_OPTIONS }),
                instances: [{ browser: 'chromium' }],
                screenshotFailures: false,
              },
            },
          },
          {
            root,
            test: {
              name: 'e2e',
              include: ['test/browser/e2e/**/*.e2e.ts'],
              environment: 'node',
              pool: 'forks',
              testTimeout: 120_000,
              hookTimeout: 120_000,
            },
          },
        ],
      }
    : {
        include: [],
        passWithNoTests: !process.env.CI,
      },
});
