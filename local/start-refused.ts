/**
 * The stack cannot start for a reason the user can fix (its data dir or port is taken): `npm start`
 * prints the message alone, one line, with no stack trace.
 */
export class StartRefused extends Error {
  override name = 'StartRefused';
}
