import { type ParseArgsConfig, parseArgs } from 'node:util';

type Options = NonNullable<ParseArgsConfig['options']>;

/**
 * A bench command's flags: `options` plus `--help`/`-h`, no positionals. A flag it does not know,
 * or a bad count, prints the message and the help and exits 2; `--help` prints the help and exits 0.
 */
export function readCommandLine<const O extends Options>(program: string, help: string, options: O) {
  const usage = (message: string): never => {
    console.error(`${program}: ${message}\n\n${help}`);
    process.exit(2);
  };
  const config = {
    options: { ...options, help: { type: 'boolean' as const, short: 'h', default: false } },
    strict: true as const,
    allowPositionals: false as const,
  };
  let parsed: ReturnType<typeof parseArgs<typeof config>>;
  try {
    parsed = parseArgs(config);
  } catch (error) {
    return usage((error as Error).message);
  }
  if ((parsed.values as { help?: boolean }).help) {
    console.log(help);
    process.exit(0);
  }
  /** `--name N`: an integer of at least `min`, or `fallback` when not given. */
  const count = (name: string, value: string | undefined, fallback: number, min: number): number => {
    if (value === undefined) return fallback;
    const parsedCount = Number(value);
    if (!Number.isInteger(parsedCount) || parsedCount < min) usage(`--${name} must be an integer of at least ${min}, got ${JSON.stringify(value)}`);
    return parsedCount;
  };
  return { values: parsed.values, usage, count };
}
