// Preloaded (`node --import`) into serverless-offline, which local/stack.ts starts in a process group
// of its own with an IPC channel. The channel closes when the parent dies, however it dies (kill -9
// included, which no signal handler sees); then this process ends its whole group (itself and the
// esbuild service it started), so no part of the stack outlives `npm start`.
if (process.channel) {
  const endGroup = () => {
    try {
      process.kill(-process.pid, 'SIGKILL');
    } catch {
      process.kill(process.pid, 'SIGKILL');
    }
  };
  process.on('disconnect', endGroup);
  // The channel must not keep serverless-offline alive on its own.
  process.channel.unref();
  // A parent that died while this process was still starting closed the channel before anyone
  // listened: no 'disconnect' will come.
  if (!process.connected) endGroup();
}
