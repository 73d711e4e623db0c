// Types of build-assets.mjs (plain JavaScript, so the esbuild plugin loads it without a TypeScript loader).
export interface BuiltAsset {
  readonly path: string;
  readonly contentType: string;
  readonly cacheControl: string;
  readonly headers: Record<string, string>;
  readonly body: Buffer;
}
export function buildWebAssets(): Promise<BuiltAsset[]>;
export function assetsModule(assets: readonly BuiltAsset[]): string;
export const WATCHED_DIRECTORY: string;
