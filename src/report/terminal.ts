/**
 * The one live line on a terminal: the progress bar. Log lines bound for the same terminal are
 * written above it (clear the bar's line, write the log line, draw the bar again), so the two
 * never overwrite each other.
 */
export interface LiveLine {
  clear(): void;
  redraw(): void;
}

let live: LiveLine | undefined;

export function setLiveLine(line: LiveLine | undefined): void {
  live = line;
}

export function writeAboveLiveLine(write: () => void): void {
  if (!live) {
    write();
    return;
  }
  live.clear();
  write();
  live.redraw();
}
