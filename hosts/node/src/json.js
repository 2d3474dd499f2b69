// Byte-level JSON helpers. The engine's answers are compared and passed on as
// bytes, never parsed and re-serialised: re-encoding would change escapes
// (\u003c), number spellings and key order, and byte identity across hosts is
// the point of the module.

const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/** @param {number} b */
function isSpace(b) {
  return b === 0x20 || b === 0x0a || b === 0x0d || b === 0x09;
}

/**
 * Removes insignificant whitespace (outside strings) from JSON text.
 * Strings, escapes included, are copied unchanged.
 * @param {Uint8Array | string} input
 * @returns {Uint8Array}
 */
export function stripWhitespace(input) {
  const src = typeof input === 'string' ? new TextEncoder().encode(input) : input;
  const out = new Uint8Array(src.length);
  let n = 0;
  let inString = false;
  for (let i = 0; i < src.length; i++) {
    const b = src[i];
    if (inString) {
      out[n++] = b;
      if (b === BACKSLASH) {
        out[n++] = src[++i];
      } else if (b === QUOTE) {
        inString = false;
      }
    } else if (!isSpace(b)) {
      out[n++] = b;
      if (b === QUOTE) inString = true;
    }
  }
  return out.subarray(0, n);
}

/**
 * Returns the index just past the JSON value that starts at `i` (after any
 * whitespace), or -1 when the text ends inside it. It checks structure only
 * as far as it needs to find the end: the engine's answers are trusted JSON.
 * @param {Uint8Array} src
 * @param {number} i
 */
function skipValue(src, i) {
  while (i < src.length && isSpace(src[i])) i++;
  if (i >= src.length) return -1;
  let depth = 0;
  let inString = false;
  for (; i < src.length; i++) {
    const b = src[i];
    if (inString) {
      if (b === BACKSLASH) i++;
      else if (b === QUOTE) {
        inString = false;
        if (depth === 0) return i + 1;
      }
      continue;
    }
    if (b === QUOTE) inString = true;
    else if (b === 0x7b || b === 0x5b) depth++; // { [
    else if (b === 0x7d || b === 0x5d) { // } ]
      if (depth === 0) return i; // end of the enclosing container
      depth--;
      if (depth === 0) return i + 1;
    } else if (depth === 0 && (b === 0x2c || isSpace(b))) {
      return i; // end of a number, true, false or null
    }
  }
  return depth === 0 && !inString ? i : -1;
}

/**
 * Finds the members of a top-level JSON object and returns, for each key, the
 * byte range of its raw value. Returns null when `src` is not an object.
 * Keys are compared as raw bytes between the quotes (the engine writes plain
 * ASCII keys).
 * @param {Uint8Array} src
 * @returns {Map<string, [number, number]> | null}
 */
export function topLevelMembers(src) {
  let i = 0;
  while (i < src.length && isSpace(src[i])) i++;
  if (src[i] !== 0x7b) return null;
  i++;
  /** @type {Map<string, [number, number]>} */
  const members = new Map();
  const dec = new TextDecoder();
  for (;;) {
    while (i < src.length && isSpace(src[i])) i++;
    if (src[i] === 0x7d) return members;
    if (src[i] !== QUOTE) return null;
    let j = i + 1;
    while (j < src.length && src[j] !== QUOTE) j += src[j] === BACKSLASH ? 2 : 1;
    if (j >= src.length) return null;
    const key = dec.decode(src.subarray(i + 1, j));
    i = j + 1;
    while (i < src.length && isSpace(src[i])) i++;
    if (src[i] !== 0x3a) return null; // :
    i++;
    while (i < src.length && isSpace(src[i])) i++;
    const end = skipValue(src, i);
    if (end < 0) return null;
    members.set(key, [i, end]);
    i = end;
    while (i < src.length && isSpace(src[i])) i++;
    if (src[i] === 0x2c) i++;
    else if (src[i] !== 0x7d) return null;
  }
}

/**
 * The byte ranges of the elements of the JSON array in src[start, end).
 * Returns null when it is not an array.
 * @param {Uint8Array} src
 * @param {number} [start]
 * @param {number} [end]
 * @returns {[number, number][] | null}
 */
export function arrayElements(src, start = 0, end = src.length) {
  const s = src.subarray(0, end);
  let i = start;
  while (i < end && isSpace(s[i])) i++;
  if (s[i] !== 0x5b) return null;
  i++;
  /** @type {[number, number][]} */
  const out = [];
  for (;;) {
    while (i < end && isSpace(s[i])) i++;
    if (s[i] === 0x5d) return out;
    const first = i;
    const last = skipValue(s, i);
    if (last < 0 || last === first) return null;
    out.push([first, last]);
    i = last;
    while (i < end && isSpace(s[i])) i++;
    if (s[i] === 0x2c) i++;
    else if (s[i] !== 0x5d) return null;
  }
}
