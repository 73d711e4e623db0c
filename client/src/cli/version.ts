import packageJson from '../../package.json' with { type: 'json' };

/** `doozer 0.1.0`, or `{"version":"0.1.0"}` with --json: what `version`, `--version` and `-v` print. */
export function versionLine(json: boolean): string {
  return json ? JSON.stringify({ version: packageJson.version }) : `doozer ${packageJson.version}`;
}

/** The words that ask for the version alone: `--version`, `-v` and `version`, with or without --json. */
const VERSION_WORDS: ReadonlySet<string> = new Set(['--version', '-v', 'version']);

/**
 * Whether the command line only asks for the version (`doozer --version`, `doozer -v --json`): the
 * entry answers it without loading the rest of the CLI.
 */
export function asksForVersion(argv: readonly string[]): boolean {
  const words = argv.filter((word) => word !== '--json');
  return words.length === 1 && VERSION_WORDS.has(words[0]!);
}
