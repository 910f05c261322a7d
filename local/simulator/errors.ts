/** Error bodies in the shapes A1111 / reForge send (see the reference, §1). */

export class SdApiError extends Error {
  readonly status: number;
  readonly body: unknown;

  constructor(status: number, body: unknown, message: string) {
    super(message);
    this.name = 'SdApiError';
    this.status = status;
    this.body = body;
  }
}

/**
 * A FastAPI `HTTPException` after A1111's exception middleware. `errors` is `str(e)`, which is ""
 * with starlette 0.26 (A1111's pin): its HTTPException passes nothing to Exception.__init__.
 */
export function httpException(status: number, detail: string): SdApiError {
  return new SdApiError(status, { error: 'HTTPException', detail, body: '', errors: '' }, detail);
}

/** A 500 as the kit's A1111 1.8 answers every one (see HostProfile.exceptionGroups). */
export const EXCEPTION_GROUP = {
  error: 'ExceptionGroup',
  detail: '',
  body: '',
  errors: 'unhandled errors in a TaskGroup (1 sub-exception)',
};

/** Any other Python exception: a 500 named after its class. */
export function serverException(pythonClass: string, message: string): SdApiError {
  return new SdApiError(500, { error: pythonClass, detail: '', body: '', errors: message }, message);
}

/** Python's repr() of a str, as in `model 'x' not found` and KeyError messages. */
export function pyRepr(s: string): string {
  return s.includes("'") && !s.includes('"') ? `"${s}"` : `'${s.replaceAll("'", "\\'")}'`;
}
