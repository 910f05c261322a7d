/** Human text by default, one JSON document per command with --json (for scripts). */
export interface Output {
  json: boolean;
  result(data: unknown, text: string): void;
  error(message: string): void;
  /** Live lines (progress bars) only for people on a terminal. */
  live(text: string): void;
}

export function createOutput(json: boolean, stream: NodeJS.WriteStream = process.stdout): Output {
  return {
    json,
    result: (data, text) => stream.write(`${json ? JSON.stringify(data) : text}\n`),
    error: (message) =>
      process.stderr.write(`${json ? JSON.stringify({ error: message }) : `error: ${message}`}\n`),
    live: (text) => {
      if (!json && stream.isTTY) stream.write(`\r\x1b[2K${text}`);
    },
  };
}
