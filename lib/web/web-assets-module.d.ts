// The module infra/esbuild-plugins.cjs makes at build time from web/build-assets.mjs: the web
// function's files, gzipped and base64-encoded. It exists only inside the web function's bundle.
declare module 'doozer:web-assets' {
  const assets: readonly import('./web-app.ts').EncodedWebAsset[];
  export default assets;
}
