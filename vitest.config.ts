import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // The long fault and load suites run with `npm run test:faults` (CI runs both).
    exclude: ['test/faults/**', '**/node_modules/**'],
    // Emulators and the local stack start inside the tests; give hooks room on a busy 2-core machine.
    hookTimeout: 120_000,
    testTimeout: 30_000,
    // The AWS SDK warns that its 2027 releases need Node 22 (Lambda runs 22); known, and noise here.
    env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
  },
});
