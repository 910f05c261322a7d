/**
 * The Step Functions Standard quotas the embedded orchestrator holds executions to, so a design
 * that would fail in AWS fails here too. Source: the Step Functions developer guide, "Step
 * Functions service quotas" and "Using Map state in Inline mode".
 */
export const QUOTAS = {
  /** Events in one execution's history; the next one fails the execution. */
  historyEvents: 25_000,
  /** Bytes (UTF-8 JSON) of an execution's input, a task's input and result, a state's output. */
  payloadBytes: 256 * 1024,
  /** Iterations an inline Map state runs at once. */
  inlineMapConcurrency: 40,
} as const;

/** Bytes of a value as Step Functions measures it: its JSON text in UTF-8. */
export const payloadBytes = (value: unknown): number =>
  Buffer.byteLength(JSON.stringify(value ?? null), 'utf8');

/**
 * An error a state fails with, named as Step Functions names it so Retry and Catch match it
 * (States.DataLimitExceeded, States.Timeout, States.Runtime).
 */
export class StatesError extends Error {
  constructor(name: string, message: string) {
    super(message);
    this.name = name;
  }
}

/** States.DataLimitExceeded for a payload over the quota, else nothing. */
export function checkPayload(what: string, value: unknown): StatesError | undefined {
  const bytes = payloadBytes(value);
  if (bytes <= QUOTAS.payloadBytes) return undefined;
  return new StatesError(
    'States.DataLimitExceeded',
    `${what} is ${bytes} bytes; Step Functions allows ${QUOTAS.payloadBytes} bytes (256 KiB)`,
  );
}
