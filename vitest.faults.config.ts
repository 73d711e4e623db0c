import { defineConfig } from 'vitest/config';
import base from './vitest.config.ts';

/** `npm run test:faults`: the long fault-injection and load suites, run by CI after `npm test`. */
export default defineConfig({
  test: { ...base.test, include: ['test/faults/**/*.test.ts'], exclude: ['**/node_modules/**'] },
});
