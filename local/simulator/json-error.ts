/**
 * Locates a JSON syntax error the way Python's `json` module reports it, so a bad body can be
 * answered like FastAPI does: loc ["body", pos], msg "Expecting value: line 1 column 1 (char 0)".
 * Only called after JSON.parse failed; it checks syntax and builds no values.
 */

export interface JsonSyntaxError {
  /** Python's reason, e.g. "Expecting value". */
  reason: string;
  pos: number;
  lineno: number;
  colno: number;
  /** `<reason>: line L column C (char P)` */
  message: string;
}

interface Failure {
  reason: string;
  pos: number;
}

const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][-+]?\d+)?/y;
const HEX4 = /[0-9a-fA-F]{4}/y;
const fail = (reason: string, pos: number): never => {
  throw { reason, pos } satisfies Failure;
};

function ws(s: string, i: number): number {
  while (s[i] === ' ' || s[i] === '\t' || s[i] === '\n' || s[i] === '\r') i++;
  return i;
}

function string(s: string, start: number): number {
  let i = start + 1;
  for (;;) {
    const c = s[i];
    if (c === undefined) return fail('Unterminated string starting at', start);
    if (c === '"') return i + 1;
    if (c < ' ') return fail('Invalid control character at', i);
    if (c === '\\') {
      const e = s[i + 1];
      if (e === 'u') {
        HEX4.lastIndex = i + 2;
        if (!HEX4.test(s)) fail('Invalid \\uXXXX escape', i + 1);
        i += 6;
        continue;
      }
      if (e === undefined || !'"\\/bfnrt'.includes(e)) fail('Invalid \\escape', i);
      i += 2;
      continue;
    }
    i++;
  }
}

function container(s: string, i: number, close: string, member: (at: number) => number): number {
  i = ws(s, i + 1);
  if (s[i] === close) return i + 1;
  for (;;) {
    i = ws(s, member(i));
    if (s[i] === close) return i + 1;
    if (s[i] !== ',') fail("Expecting ',' delimiter", i);
    i = ws(s, i + 1);
  }
}

function value(s: string, at: number): number {
  const i = ws(s, at);
  const c = s[i];
  if (c === '{') {
    return container(s, i, '}', (k) => {
      if (s[k] !== '"') fail('Expecting property name enclosed in double quotes', k);
      const colon = ws(s, string(s, k));
      if (s[colon] !== ':') fail("Expecting ':' delimiter", colon);
      return value(s, colon + 1);
    });
  }
  if (c === '[') return container(s, i, ']', (k) => value(s, k));
  if (c === '"') return string(s, i);
  for (const word of ['null', 'true', 'false', 'NaN', 'Infinity', '-Infinity']) {
    if (s.startsWith(word, i)) return i + word.length;
  }
  NUMBER.lastIndex = i;
  if (NUMBER.test(s)) return NUMBER.lastIndex;
  return fail('Expecting value', i);
}

export function locateJsonError(doc: string): JsonSyntaxError {
  let failure: Failure = { reason: 'Expecting value', pos: 0 };
  try {
    const end = ws(doc, value(doc, 0));
    if (end < doc.length) failure = { reason: 'Extra data', pos: end };
  } catch (e) {
    failure = e as Failure;
  }
  const { reason, pos } = failure;
  const lineno = doc.slice(0, pos).split('\n').length;
  const colno = pos - (pos > 0 ? doc.lastIndexOf('\n', pos - 1) : -1);
  return { reason, pos, lineno, colno, message: `${reason}: line ${lineno} column ${colno} (char ${pos})` };
}
