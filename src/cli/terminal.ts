/**
 * The local terminal during `exec -t`: raw mode while the remote process
 * runs (so keys such as Ctrl-C reach it), restored afterwards.
 */
export interface TerminalSize {
  rows: number;
  cols: number;
}

export function terminalSize(): TerminalSize | undefined {
  const { rows, columns } = process.stdout;
  if (!process.stdout.isTTY || !rows || !columns) return undefined;
  return { rows, cols: columns };
}

/** Puts stdin in raw mode if it is a terminal; returns the undo. */
export function enterRawMode(): () => void {
  const stdin = process.stdin;
  if (!stdin.isTTY) return () => {};
  stdin.setRawMode(true);
  return () => stdin.setRawMode(false);
}

/** Calls `onResize` whenever the local terminal changes size. */
export function watchResize(
  onResize: (size: TerminalSize) => void,
): () => void {
  const listener = () => {
    const size = terminalSize();
    if (size) onResize(size);
  };
  process.stdout.on('resize', listener);
  return () => process.stdout.off('resize', listener);
}
