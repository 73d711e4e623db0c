/**
 * Preloaded into serverless-offline by `npm run bench:trace -- --cpu-prof` (NODE_OPTIONS=--require,
 * since Node 20 refuses --cpu-prof there): the first SIGUSR2 starts V8's CPU profiler in this
 * process, the second stops it and writes `<pid>.cpuprofile` to $DOOZER_CPU_PROFILE_DIR. So the
 * profile covers only the traced phase, not the start-up and bundling.
 */
'use strict';
const inspector = require('node:inspector');
const fs = require('node:fs');
const path = require('node:path');

const dir = process.env.DOOZER_CPU_PROFILE_DIR;
const interval = Number(process.env.DOOZER_CPU_PROFILE_INTERVAL_US || 250);
if (dir) {
  const session = new inspector.Session();
  session.connect();
  let running = false;
  process.on('SIGUSR2', () => {
    if (!running) {
      running = true;
      session.post('Profiler.enable', () =>
        session.post('Profiler.setSamplingInterval', { interval }, () => session.post('Profiler.start')),
      );
      return;
    }
    running = false;
    session.post('Profiler.stop', (error, result) => {
      if (error) return console.error(`cpu-profile-preload: ${error.message}`);
      const file = path.join(dir, `${process.pid}.cpuprofile`);
      fs.writeFileSync(`${file}.partial`, JSON.stringify(result.profile));
      fs.renameSync(`${file}.partial`, file);
    });
  });
}
