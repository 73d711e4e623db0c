// Preloaded (`node --import`) into serverless-offline, which local/stack.ts starts in a process group
// of its own with an IPC channel. The channel closes when the parent dies, however it dies (kill -9
// included, which no signal handler sees); then this process ends its whole group (itself and the
// esbuild service it started), so no part of the stack outlives `npm start`.
if (process.channel) {
  // The channel must not keep serverless-offline alive on its own.
  process.channel.unref();
  process.on('disconnect', () => {
    try {
      process.kill(-process.pid, 'SIGKILL');
    } catch {
      process.kill(process.pid, 'SIGKILL');
    }
  });
}
