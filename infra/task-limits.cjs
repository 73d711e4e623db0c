// The queue and worker settings that follow from the tasks' limits (TaskCatalog.queueSettings), for
// serverless.yml: `${file(./infra/task-limits.cjs):workerTimeoutSeconds}`. The Framework loads this
// file with require(), so it bundles tasks/index.ts with esbuild (already there for serverless-esbuild)
// and runs it; the tasks' own modules are read as they are, no copy of their limits is kept here.
'use strict';
const { buildSync } = require('esbuild');
const Module = require('node:module');
const path = require('node:path');

let settings;

function queueSettings() {
  if (settings) return settings;
  const root = path.join(__dirname, '..');
  const entry = path.join(root, 'infra', '.task-limits-entry.cjs');
  const { outputFiles } = buildSync({
    stdin: {
      contents:
        "import { TASKS } from '../tasks/index.ts';\n" +
        "import { TaskCatalog } from '../lib/tasks/task-catalog.ts';\n" +
        'export const settings = new TaskCatalog(TASKS).queueSettings();\n',
      resolveDir: path.join(root, 'infra'),
      loader: 'ts',
      sourcefile: 'task-limits-entry.ts',
    },
    bundle: true,
    write: false,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    logLevel: 'error',
  });
  const loaded = new Module(entry, module);
  loaded.filename = entry;
  loaded.paths = Module._nodeModulePaths(path.dirname(entry));
  loaded._compile(outputFiles[0].text, entry);
  settings = loaded.exports.settings;
  return settings;
}

module.exports = () => queueSettings();
module.exports.queueSettings = queueSettings;
