import { defineConfig } from 'vitest/config';

/**
 * One project per kind of test, named after its folder: `npm run test:unit` runs in seconds with no
 * emulator; `npm test` runs every project but `faults`, which `npm run test:faults` runs (CI runs both).
 */
const PROJECTS = {
  unit: 'pure logic and in-process HTTP (app.request), no emulator',
  integration: 'adapters against the real emulators the tests start',
  security: 'attacks on the app: JWTs, fuzzed bodies',
  e2e: 'the local stack as `npm start` runs it, over HTTP and through the CLI',
  browser: 'the web page and /docs in Chromium',
  deploy: 'the packaged AWS template and bundles',
  bench: "the benchmark's own code",
  faults: 'fault injection and load on the running stack (long)',
} as const;

export default defineConfig({
  test: {
    // Emulators and the local stack start inside the tests; give hooks room on a busy 2-core machine.
    hookTimeout: 120_000,
    testTimeout: 30_000,
    // The AWS SDK warns that its 2027 releases need Node 22 (Lambda runs 22); known, and noise here.
    env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
    projects: Object.keys(PROJECTS).map((name) => ({
      extends: true as const,
      test: { name, include: [`test/${name}/**/*.test.ts`] },
    })),
  },
});
