#!/usr/bin/env node
/**
 * The `doozer` command. `--version`, `-v` and `version` are answered here, before the rest is
 * loaded (commander, the client, the commands); every other command line goes to main.
 */
import { asksForVersion, versionLine } from './cli/version.ts';

// `doozer list | head`: once the reader is gone, stop quietly, as a command that SIGPIPE ends does.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code !== 'EPIPE') throw error;
  process.exit();
});

const argv = process.argv.slice(2);
if (asksForVersion(argv)) {
  process.stdout.write(`${versionLine(argv.includes('--json'))}\n`);
} else {
  // A chunk of its own in the bundle (build.mjs), loaded only now.
  const { main } = await import('./cli/main.ts');
  process.exitCode = await main(argv);
}
