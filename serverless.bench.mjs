// The stack `npm run bench` runs: serverless.yml as it is, plus the benchmark's floor function
// (bench/floor-handler.ts, `POST /bench/floor`), which the product does not have. Serverless reads a
// configuration only from the service's root folder, hence this file here rather than in bench/.
// It is read with the framework's own reader, so the CloudFormation tags and YAML merge keys of
// serverless.yml come through, and its variables are resolved afterwards as for serverless.yml.
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const readConfiguration = createRequire(import.meta.url)('serverless/lib/configuration/read.js');
/** Where serverless-esbuild builds the bench's stack (git-ignored), apart from the product's `.esbuild`. */
export const BENCH_BUILD_FOLDER = '.esbuild-bench';

const product = await readConfiguration(fileURLToPath(new URL('./serverless.yml', import.meta.url)));

export default {
  ...product,
  custom: {
    ...product.custom,
    // A build folder of its own: serverless-esbuild packages every file of its build folder into
    // each function's zip, so a bench build left in .esbuild would ship the floor with the product.
    esbuild: { ...product.custom.esbuild, outputWorkFolder: BENCH_BUILD_FOLDER },
  },
  functions: {
    ...product.functions,
    // The api function's settings (environment, role, timeout), another handler, one route.
    benchFloor: {
      ...product.functions.api,
      handler: 'bench/floor-handler.handler',
      description: "doozer benchmark floor: POST /tasks's auth and checks, the task run inline",
      events: [{ httpApi: 'POST /bench/floor' }],
    },
  },
};
