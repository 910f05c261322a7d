/** Where the CLI writes: standard output, or a test's fixed-width terminal. */
export interface Terminal {
  write(text: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

/** A line drawn to fit `width` visible characters (Infinity: no limit). */
export type Line = (width: number) => string;

/** Human text by default, one JSON document per command with --json (for scripts). */
export interface Output {
  json: boolean;
  /** The command's answer: `data` with --json, else the text (a Line fits the terminal). */
  result(data: unknown, text: string | Line): void;
  /** With --json only: one more JSON line while a command goes on (watch's updates). */
  update(data: unknown): void;
  error(message: string): void;
  /**
   * A live line: on a terminal redrawn in place, never as wide as the terminal (so it never
   * wraps); elsewhere printed once per new `key` (e.g. the completed count), or not at all
   * without one.
   */
  live(line: Line, key?: string): void;
}

/** Carriage return and erase the line: the next text replaces the live line. */
export const REDRAW = '\r\x1b[2K';

export function createOutput(
  json: boolean,
  stream: Terminal = process.stdout,
  errors: Terminal = process.stderr,
): Output {
  let drawn = false;
  let lastKey: string | undefined;
  // The last column stays empty: a character there wraps the line on some terminals.
  const width = () => (stream.isTTY ? Math.max(1, (stream.columns || 80) - 1) : Number.POSITIVE_INFINITY);
  const text = (line: string | Line) => (typeof line === 'string' ? line : line(width()));
  const clear = () => {
    if (drawn) stream.write(REDRAW);
    drawn = false;
  };
  return {
    json,
    result: (data, line) => {
      clear();
      stream.write(`${json ? JSON.stringify(data) : text(line)}\n`);
    },
    update: (data) => {
      if (json) stream.write(`${JSON.stringify(data)}\n`);
    },
    error: (message) => {
      clear();
      errors.write(`${json ? JSON.stringify({ error: message }) : `error: ${message}`}\n`);
    },
    live: (line, key) => {
      if (json) return;
      if (stream.isTTY) {
        stream.write(`${REDRAW}${line(width())}`);
        drawn = true;
      } else if (key !== undefined && key !== lastKey) {
        lastKey = key;
        stream.write(`${line(width())}\n`);
      }
    },
  };
}
