/**
 * A one-line spinner on a terminal, redrawn in place and cleared when stopped; silent when the
 * stream is not a TTY (pipes, CI). The text is cut to the terminal's width: a line that wrapped
 * could not be redrawn in place.
 */
export interface Spinner {
  update(text: string): void;
  stop(): void;
}

const FRAMES = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

export function startSpinner(stream: NodeJS.WriteStream, initial: string): Spinner {
  if (!stream.isTTY) return { update() {}, stop() {} };
  let text = initial;
  let frame = 0;
  const draw = () => {
    // The frame and a space take 2 columns; the last column stays free, so the cursor never wraps.
    const room = stream.columns ? Math.max(0, stream.columns - 3) : Infinity;
    const shown = text.length > room ? `${text.slice(0, Math.max(0, room - 1)).trimEnd()}…` : text;
    stream.write(`\r\x1b[2K${FRAMES[frame++ % FRAMES.length]} ${shown}`);
  };
  draw();
  const timer = setInterval(draw, 80);
  return {
    update(next) {
      text = next;
    },
    stop() {
      clearInterval(timer);
      stream.write('\r\x1b[2K');
    },
  };
}
