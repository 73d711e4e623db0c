// esbuild plugins for serverless-esbuild (custom.esbuild.plugins in serverless.yml).
//
// `doozer:web-assets` is the web function's files (web/build-assets.mjs): the page's script and
// stylesheet built for browsers, the HTML, and Swagger UI's files, gzipped once here. Only the web
// function imports it, so no other bundle carries them.
const { readdirSync } = require('node:fs');
const { join } = require('node:path');

const NAMESPACE = 'doozer-web-assets';

/** Every file under web/, for esbuild's watch list. */
function filesUnder(directory) {
  return readdirSync(directory, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? filesUnder(join(directory, entry.name)) : [join(directory, entry.name)],
  );
}

const webAssets = {
  name: 'doozer-web-assets',
  setup(build) {
    build.onResolve({ filter: /^doozer:web-assets$/ }, (args) => ({ path: args.path, namespace: NAMESPACE }));
    build.onLoad({ filter: /.*/, namespace: NAMESPACE }, async () => {
      const { buildWebAssets, assetsModule, WATCHED_DIRECTORY } = await import('../web/build-assets.mjs');
      return { contents: assetsModule(await buildWebAssets()), loader: 'js', watchFiles: filesUnder(WATCHED_DIRECTORY) };
    });
  },
};

module.exports = [webAssets];
