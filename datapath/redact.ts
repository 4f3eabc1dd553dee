/**
 * Redaction of gathered text before it enters the archive (`spec.redact`): Secret values, IP and MAC addresses.
 *
 * Content is bytes: any bytes (UTF-8 or not) pass through unchanged and only the ASCII the rules match is rewritten;
 * where a rule needs text, the text is latin1 (one character per byte). Every replacement is a token derived from the
 * value under a random key of this redactor's own ({@link Redactor} is made once per archive and its key is never
 * written anywhere): the same address is the same token everywhere in one report, so network debugging still works,
 * and no token can be reversed by hashing candidate addresses (all 2^32 IPv4 addresses are quickly hashed otherwise).
 * Tokens are SipHash-2-4 (a keyed pseudorandom function built for short inputs, 128-bit key, one key per kind of
 * token), 32 bits of it: HMAC-SHA256 through node:crypto costs ten times as much per value, and a log can hold an
 * address every 150 bytes.
 *
 * Rules:
 *  - `ipAddresses`: IPv4 in dotted decimal, IPv6 in any form Node's `net.isIPv6` accepts (with an embedded IPv4 or
 *    not), normalised first so that `fd00::1` and `FD00:0::1` are one token;
 *  - `macAddresses`: six hex pairs separated by `:` or `-`;
 *  - `secrets`: the values (keys kept) of `data` and `stringData` of every Secret in YAML (block style, as kubectl and
 *    oc write it, in lists too) and in JSON (a whole JSON file, or a JSON object on one line such as the
 *    `last-applied-configuration` annotation), the body of PEM private keys, and the values of kubeconfig and auth
 *    credential keys (`client-key-data`, `token`, `password`, ...) in YAML and JSON, wherever they appear.
 * Secret objects are found by their structure, which needs the whole text: {@link Redactor.redact} is given a whole
 * file (`whole`) or a piece of a large one cut at a line end; a piece in which a Secret's structure may be
 * incomplete is reported by {@link Redactor.mayHoldSecretObject} so that the caller can leave the file out.
 */
import { randomBytes } from 'node:crypto';
import { isIPv6 } from 'node:net';
import type { RedactKind, RedactionCounts } from '../constructs/pod-contract.js';
import { sipHash24, writeHex } from './siphash.js';

/*
 * Address patterns are loose and fast (each a plain scan V8 compiles well; one alternation of all three was 4x
 * slower); what they find is checked in code: the characters around it (not part of a longer number, word or
 * address) and the value itself.
 */
const IPV4 = /[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}/g;
/**
 * IPv6 without `::` has all eight groups: found from its second colon on (a pattern that starts with a literal scans
 * several times faster than one that starts with a character class), the first group read backwards in code. With
 * `::`, {@link IPV6_COMPRESSED} finds it.
 */
const IPV6_FULL = /:[0-9A-Fa-f]{1,4}(?::[0-9A-Fa-f]{1,4}){6}/g;
const IPV6_COMPRESSED = /::/g;
const MAC = /[0-9A-Fa-f]{2}([:-])[0-9A-Fa-f]{2}\1[0-9A-Fa-f]{2}\1[0-9A-Fa-f]{2}\1[0-9A-Fa-f]{2}\1[0-9A-Fa-f]{2}/g;

/** Keys whose values are credentials in kubeconfigs, auth provider configs and the like. */
const CREDENTIAL_KEYS = 'client-key-data|token|password|id-token|refresh-token|access-token|client-secret|bearerToken|bearer-token';
const YAML_CREDENTIAL = new RegExp(`^([ \\t]*(?:- )?["']?(?:${CREDENTIAL_KEYS})["']?:[ \\t]+)(?!["']?x-secret-)([^ \\t\\r\\n#][^\\r\\n]*)$`, 'gm');
const JSON_CREDENTIAL = new RegExp(`("(?:${CREDENTIAL_KEYS})"[ \\t]*:[ \\t]*)"((?:[^"\\\\\\r\\n]|\\\\.)+)"`, 'g');
const CREDENTIAL_HINT = new RegExp(`(?:${CREDENTIAL_KEYS})["']?[ \\t]*:`);
const PEM_KEY = /(-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----)([\s\S]*?)(-----END (?:[A-Z0-9]+ )*PRIVATE KEY-----)/g;
const PEM_BEGIN = /-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----/g;
const PEM_END = /-----END (?:[A-Z0-9]+ )*PRIVATE KEY-----/;
const YAML_SECRET_KIND = /^([ \t]*)(- )?kind:[ \t]*["']?Secret["']?[ \t]*$/gm;
const JSON_SECRET_KIND = /"kind"[ \t]*:[ \t]*"Secret"/;

/** What {@link Redactor.redact} replaced, by kind. */
function zeroCounts(): RedactionCounts {
  return { secrets: 0, ipAddresses: 0, macAddresses: 0 };
}

type TokenKind = 'ipv4' | 'ipv6' | 'mac' | 'secret';
const TOKEN_KINDS: readonly TokenKind[] = ['ipv4', 'ipv6', 'mac', 'secret'];
/**
 * 32 bits: two of 100,000 distinct values of one kind share a token about once (an archive rarely holds that many
 * addresses); each more bit costs size, since a token is as incompressible as its bits (measured on logs with a new
 * address per line: 40 bits made the archive 4% larger than unredacted, 32 bits 0.7%).
 */
const TOKEN_HEX_DIGITS = 8;
const TOKEN_PREFIX = Object.fromEntries(TOKEN_KINDS.map((k) => [k, Buffer.from(`x-${k}-`, 'latin1')])) as Record<TokenKind, Buffer>;
const TOKEN_LENGTH = Object.fromEntries(TOKEN_KINDS.map((k) => [k, TOKEN_PREFIX[k].length + TOKEN_HEX_DIGITS + 2])) as Record<TokenKind, number>;

export class Redactor {
  readonly kinds: ReadonlySet<RedactKind>;
  /** Replacements made so far, by kind. */
  readonly counts: RedactionCounts = zeroCounts();
  readonly #keys: Record<TokenKind, Buffer>;
  readonly #hash = new Uint32Array(2);
  /** Set by {@link #scan}: a credential key followed by a colon was seen. */
  #credentialKey = false;
  /** `key`: 64 bytes, 16 per token kind; random unless a test needs tokens it can predict. */
  constructor(kinds: Iterable<RedactKind>, key: Buffer = randomBytes(64)) {
    this.kinds = new Set(kinds);
    if (key.length !== 64) throw new Error(`a redaction key has 64 bytes, not ${key.length}`);
    this.#keys = { ipv4: key.subarray(0, 16), ipv6: key.subarray(16, 32), mac: key.subarray(32, 48), secret: key.subarray(48, 64) };
  }

  /** True when nothing is to be redacted. */
  get empty(): boolean {
    return this.kinds.size === 0;
  }

  /**
   * `content` with the redactor's kinds replaced (the same buffer when nothing was). `whole`: the content is a whole
   * file, so Secret objects (YAML and multi-line JSON) can be found by their structure.
   */
  redact(content: Buffer, whole: boolean): Buffer {
    if (this.empty) return content;
    this.#credentialKey = false;
    let out = this.#scan(content);
    // The secret rules work on text; it is only made when one of them can match.
    if (this.kinds.has('secrets') && (this.#credentialKey || out.indexOf(SECRET_HINT) >= 0 || out.indexOf(PEM_HINT) >= 0)) {
      const text = out.toString('latin1');
      const redacted = this.#secrets(text, whole);
      if (redacted !== text) out = Buffer.from(redacted, 'latin1');
    }
    return out;
  }

  /** `text` (latin1: one character per byte) redacted like {@link redact}'s content. */
  redactText(text: string, whole: boolean): string {
    const content = Buffer.from(text, 'latin1');
    const out = this.redact(content, whole);
    return out === content ? text : out.toString('latin1');
  }

  /** A message (UTF-8, e.g. a failed gather's last lines) redacted like a gathered file; counted only with `count`. */
  redactString(text: string, { count = false }: { count?: boolean } = {}): string {
    const before = { ...this.counts };
    const content = Buffer.from(text, 'utf8');
    const out = this.redact(content, true);
    if (!count) Object.assign(this.counts, before);
    return out === content ? text : out.toString('utf8');
  }

  /**
   * Addresses, found by one pass over the bytes that also notes credential keys for the secret rules: runs of hex
   * digits, `:`, `.` and `-` (every address is one) with enough separators to be one ({@link nextRun}); an IPv4
   * address alone or with a port is replaced right there, anything else goes, with one byte of context on each side,
   * to the string rules. A log has a timestamp or a uid on every line and few addresses: this costs a few table
   * lookups per byte where regular expressions over the whole text cost ten times as much.
   */
  #scan(content: Buffer): Buffer {
    const ip = this.kinds.has('ipAddresses');
    const mac = this.kinds.has('macAddresses');
    const length = content.length;
    const splice = new Splice(content);
    const run = RUN_STATE;
    run[RUN_CREDENTIAL] = 0;
    for (let start = nextRun(content, 0, run); start >= 0; start = nextRun(content, run[RUN_END]!, run)) {
      const end = run[RUN_END]!;
      const dots = run[RUN_DOTS]!;
      const colons = run[RUN_COLONS]!;
      if (!((ip && (dots >= 3 || run[RUN_DOUBLE_COLON] || colons >= 7)) || (mac && (colons >= 5 || run[RUN_DASHES]! >= 5)))) continue;
      // The common case, an IPv4 address alone or with a port (`10.0.0.1`, `10.0.0.1:6443`): from bytes to bytes.
      if (ip && dots === 3 && colons <= 1 && run[RUN_DASHES] === 0) {
        const address = ipv4At(content, start, end);
        if (address > start && !isWordOrNumber(content[start - 1] ?? 0, true) && !isWordOrNumber(content[end] ?? 0, false)) {
          this.counts.ipAddresses++;
          const target = splice.replace(start, address, TOKEN_LENGTH.ipv4);
          this.#writeToken('ipv4', IPV4_OCTETS, 0, 4, target.buffer, target.at);
          continue;
        }
      }
      // Anything else through the string rules, with one byte of context on each side (they look at it).
      const from = Math.max(0, start - 1);
      const to = Math.min(length, end + 1);
      const text = content.toString('latin1', from, to);
      let redacted = ip ? this.#ipAddresses(text) : text;
      if (mac) redacted = this.#macAddresses(redacted);
      // The context bytes are not address characters, so the rules left them in place.
      if (redacted !== text) {
        const token = redacted.slice(start - from, redacted.length - (to - end));
        const target = splice.replace(start, end, token.length);
        target.buffer.write(token, target.at, 'latin1');
      }
    }
    this.#credentialKey = run[RUN_CREDENTIAL] === 1;
    return splice.finish();
  }

  /**
   * Whether a piece of a file too large to redact whole may hold part of a Secret object that only the whole text
   * shows (a YAML `kind: Secret`, or a multi-line JSON Secret): such a file must be left out, not archived unredacted.
   */
  mayHoldSecretObject(piece: Buffer): boolean {
    if (!this.kinds.has('secrets') || piece.indexOf(SECRET_HINT) < 0) return false;
    const text = piece.toString('latin1');
    YAML_SECRET_KIND.lastIndex = 0;
    if (YAML_SECRET_KIND.test(text)) return true;
    // A JSON Secret on one line is redacted by the line rule; one spread over lines is not.
    return text.split('\n').some((line) => JSON_SECRET_KIND.test(line) && !lineJsonObject(line));
  }

  /** Where a large file's piece may be cut: before an unfinished PEM private key (so that its body stays in one piece). */
  safeCut(piece: Buffer): number {
    if (!this.kinds.has('secrets') || piece.indexOf(PEM_HINT) < 0) return piece.length;
    const text = piece.toString('latin1');
    let begin = -1;
    PEM_BEGIN.lastIndex = 0;
    for (let m = PEM_BEGIN.exec(text); m; m = PEM_BEGIN.exec(text)) begin = m.index;
    if (begin < 0 || PEM_END.test(text.slice(begin))) return piece.length;
    const lineStart = text.lastIndexOf('\n', begin) + 1;
    return lineStart > 0 ? lineStart : piece.length;
  }

  /** The token of `value` (normalised, latin1; IPv4 dotted) of `kind`: `x-ipv4-<8 hex>-x`, ... */
  token(kind: TokenKind, value: string): string {
    const token = Buffer.allocUnsafe(TOKEN_LENGTH[kind]);
    const bytes = Buffer.from(value, 'latin1');
    if (kind !== 'ipv4') this.#writeToken(kind, bytes, 0, bytes.length, token, 0);
    else if (ipv4At(bytes, 0, bytes.length) === bytes.length) this.#writeToken(kind, IPV4_OCTETS, 0, 4, token, 0);
    else throw new Error(`not an IPv4 address: ${value}`);
    return token.toString('latin1');
  }

  /**
   * Writes the token of `data[start..end)` into `target` at `at` (room for `TOKEN_LENGTH[kind]` bytes); returns its
   * length. No cache: SipHash costs about what a Map lookup of a fresh string does, and most addresses in a log are new.
   */
  #writeToken(kind: TokenKind, data: Uint8Array, start: number, end: number, target: Uint8Array, at: number): number {
    const prefix = TOKEN_PREFIX[kind];
    for (let i = 0; i < prefix.length; i++) target[at + i] = prefix[i]!; // a few bytes: cheaper than a native call
    sipHash24(this.#keys[kind], data, start, end, this.#hash);
    writeHex(this.#hash, TOKEN_HEX_DIGITS, target, at + prefix.length);
    target[at + prefix.length + TOKEN_HEX_DIGITS] = DASH;
    target[at + prefix.length + TOKEN_HEX_DIGITS + 1] = 0x78; // x
    return prefix.length + TOKEN_HEX_DIGITS + 2;
  }

  #secretToken(value: string): string {
    this.counts.secrets++;
    return this.token('secret', value);
  }

  #ipAddresses(text: string): string {
    // IPv6 first: one may end in an IPv4 address (`::ffff:10.0.0.1`), which is part of it.
    return this.#compressedIPv6(this.#fullIPv6(text)).replace(IPV4, (match: string, at: number, all: string) => {
      const after = all.charCodeAt(at + match.length);
      if (ipv4At(Buffer.from(match, 'latin1'), 0, match.length) !== match.length || isWordOrNumber(all.charCodeAt(at - 1), true) || isWordOrNumber(after, false)) return match;
      // Followed by `.<digit>`: part of a longer dotted number (a version), not an address.
      if (after === DOT && isDigit(all.charCodeAt(at + match.length + 1))) return match;
      this.counts.ipAddresses++;
      return this.token('ipv4', match);
    });
  }

  /** Eight groups, no `::`: each match starts at the first colon, its first group is read backwards. */
  #fullIPv6(text: string): string {
    return this.#ipv6(text, IPV6_FULL, (m, done) => {
      let start = m.index;
      while (start > m.index - 4 && start > done && isHex(text.charCodeAt(start - 1))) start--;
      const end = m.index + m[0].length;
      const before = text.charCodeAt(start - 1);
      const after = text.charCodeAt(end);
      if (start === m.index || isV6Char(before) || isWordOrNumber(before, true) || isV6Char(after) || isWordOrNumber(after, false)) return undefined;
      return [start, end];
    });
  }

  /** Each `::` grown to the run of address characters around it (an embedded IPv4 included). */
  #compressedIPv6(text: string): string {
    if (text.indexOf('::') < 0) return text;
    return this.#ipv6(text, IPV6_COMPRESSED, (m, done) => {
      let start = m.index;
      let end = m.index + 2;
      while (start > done && isV6Char(text.charCodeAt(start - 1))) start--;
      while (end < text.length && (isV6Char(text.charCodeAt(end)) || text.charCodeAt(end) === DOT)) end++;
      if (text.charCodeAt(end - 1) === DOT) end--; // a sentence's full stop
      IPV6_COMPRESSED.lastIndex = end;
      if (isWordOrNumber(text.charCodeAt(start - 1), true) || isWordOrNumber(text.charCodeAt(end), false)) return undefined;
      return [start, end];
    });
  }

  /**
   * Each match of `pattern` that `bounds` (given the match and where the text is done) grows to a candidate, replaced
   * when it is an IPv6 address.
   */
  #ipv6(text: string, pattern: RegExp, bounds: (m: RegExpExecArray, done: number) => [number, number] | undefined): string {
    let result = '';
    let done = 0;
    pattern.lastIndex = 0;
    for (let m = pattern.exec(text); m; m = pattern.exec(text)) {
      const found = bounds(m, done);
      if (!found) continue;
      const [start, end] = found;
      const candidate = text.slice(start, end);
      if (!isIPv6(candidate)) continue;
      this.counts.ipAddresses++;
      result += text.slice(done, start) + this.token('ipv6', normaliseIPv6(candidate));
      done = end;
    }
    return done === 0 ? text : result + text.slice(done);
  }

  #macAddresses(text: string): string {
    return text.replace(MAC, (match: string, _sep: string, at: number, all: string) => {
      const before = all.charCodeAt(at - 1);
      const after = all.charCodeAt(at + match.length);
      if (isWordOrNumber(before, false) || isWordOrNumber(after, false) || before === COLON || after === COLON || before === DASH || after === DASH) return match;
      this.counts.macAddresses++;
      return this.token('mac', match.toLowerCase().replaceAll('-', ':'));
    });
  }

  #secrets(text: string, whole: boolean): string {
    let out = text;
    if (out.indexOf('PRIVATE KEY-----') >= 0) {
      out = out.replace(PEM_KEY, (_m, begin: string, body: string, end: string) => {
        const newline = body.startsWith('\\n') ? '\\n' : '\n';
        return `${begin}${newline}${this.#secretToken(body.trim())}${newline}${end}`;
      });
    }
    if (out.indexOf('Secret') >= 0) {
      if (whole) out = this.#wholeJsonSecrets(out);
      out = this.#lineJsonSecrets(out);
      if (whole) out = this.#yamlSecrets(out);
    }
    if (this.#credentialKey || CREDENTIAL_HINT.test(out)) {
      // JSON first: the YAML rule also reads `"token": "..."` (JSON is YAML), and would drop the quotes.
      out = out.replace(JSON_CREDENTIAL, (m, key: string, value: string) => (value.startsWith('x-secret-') ? m : `${key}"${this.#secretToken(value)}"`));
      out = out.replace(YAML_CREDENTIAL, (m, key: string, value: string) => (isEmptyValue(value) ? m : `${key}${this.#secretToken(value)}`));
    }
    return out;
  }

  /** A file that is one JSON value: every Secret in it (and in JSON strings within it) redacted, re-serialised. */
  #wholeJsonSecrets(text: string): string {
    const start = text.search(/\S/);
    if (start < 0 || (text[start] !== '{' && text[start] !== '[')) return text;
    const value = parseJson(text);
    if (value === undefined) return text;
    const before = this.counts.secrets;
    const redacted = this.#redactJsonValue(value);
    if (this.counts.secrets === before) return text;
    const indent = /^[[{]\r?\n([ \t]+)/.exec(text.slice(start))?.[1];
    return `${text.slice(0, start)}${jsonText(redacted, indent)}${/\s*$/.exec(text)![0]}`;
  }

  /** Lines holding one JSON object that is or contains a Secret (JSON logs, the last-applied annotation). */
  #lineJsonSecrets(text: string): string {
    if (!JSON_SECRET_KIND.test(text)) return text;
    return text.replace(/^.*"kind"[ \t]*:[ \t]*"Secret".*$/gm, (line) => {
      const found = lineJsonObject(line);
      if (!found) return line;
      const before = this.counts.secrets;
      const redacted = this.#redactJsonValue(found.value);
      return this.counts.secrets === before ? line : `${line.slice(0, found.start)}${jsonText(redacted)}${line.slice(found.end)}`;
    });
  }

  #redactJsonValue(value: unknown): unknown {
    if (typeof value === 'string') {
      if (value.indexOf('Secret') < 0 || !/^\s*[[{]/.test(value)) return value;
      const inner = parseJson(value);
      if (inner === undefined) return value;
      const before = this.counts.secrets;
      const redacted = this.#redactJsonValue(inner);
      return this.counts.secrets === before ? value : JSON.stringify(redacted);
    }
    if (Array.isArray(value)) return value.map((v) => this.#redactJsonValue(v));
    if (typeof value !== 'object' || value === null) return value;
    const object = value as Record<string, unknown>;
    const secret = object.kind === 'Secret';
    const out: Record<string, unknown> = {};
    for (const [key, v] of Object.entries(object)) {
      if (secret && (key === 'data' || key === 'stringData') && typeof v === 'object' && v !== null && !Array.isArray(v)) {
        out[key] = Object.fromEntries(Object.entries(v).map(([k, s]) => [k, this.#secretToken(typeof s === 'string' ? s : JSON.stringify(s))]));
      } else {
        out[key] = this.#redactJsonValue(v);
      }
    }
    return out;
  }

  /**
   * Block-style YAML: for each `kind: Secret` line, the mapping it belongs to (the lines at its indentation, up to the
   * list item or document that holds it), and in it the values under `data:` and `stringData:`. Keys stay; a value's
   * continuation lines (block scalars) go with it.
   */
  #yamlSecrets(text: string): string {
    YAML_SECRET_KIND.lastIndex = 0;
    if (!YAML_SECRET_KIND.test(text)) return text;
    const lines = text.split('\n');
    const drop = new Set<number>();
    for (let i = 0; i < lines.length; i++) {
      const kind = /^([ \t]*)(- )?kind:[ \t]*["']?Secret["']?[ \t]*\r?$/.exec(lines[i]!);
      if (!kind) continue;
      const indent = kind[1]!.length + (kind[2] ? 2 : 0);
      const [first, last] = mappingBounds(lines, i, indent);
      for (let k = first; k <= last; k++) {
        const key = keyAt(lines[k]!, indent);
        if (key !== 'data' && key !== 'stringData') continue;
        const inline = lines[k]!.slice(lines[k]!.indexOf(':') + 1).trim();
        if (inline && inline !== '{}' && !inline.startsWith('#')) {
          lines[k] = `${lines[k]!.slice(0, lines[k]!.indexOf(':') + 1)} ${this.#flowMap(inline)}`;
          continue;
        }
        let childIndent = -1;
        for (let c = k + 1; c <= last; c++) {
          const line = lines[c]!;
          const depth = indentOf(line);
          if (depth < 0) continue; // blank
          if (depth <= indent) break;
          if (childIndent < 0) childIndent = depth;
          if (depth > childIndent) {
            drop.add(c); // the continuation of a multi-line value
            continue;
          }
          const colon = keyColon(line);
          if (colon < 0) continue;
          const value = line.slice(colon + 1).trim();
          lines[c] = `${line.slice(0, colon + 1)} ${this.#secretToken(value)}`;
        }
      }
    }
    return drop.size === 0 ? lines.join('\n') : lines.filter((_, i) => !drop.has(i)).join('\n');
  }

  /** `{a: x, b: y}` with each value replaced; anything not a plain flow mapping becomes one token. */
  #flowMap(inline: string): string {
    const body = /^\{(.*)\}$/.exec(inline)?.[1];
    if (body === undefined || /["'{}[\]]/.test(body)) return this.#secretToken(inline);
    return `{${body.split(',').map((pair) => {
      const colon = pair.indexOf(':');
      return colon < 0 ? pair : `${pair.slice(0, colon + 1)} ${this.#secretToken(pair.slice(colon + 1).trim())}`;
    }).join(', ')}}`;
  }
}

/**
 * A copy of `content` with ranges replaced, made only once a first range is: most texts have nothing to replace.
 * Ranges come in order and do not overlap.
 */
class Splice {
  #out: Buffer | undefined;
  /** Bytes written to #out. */
  #at = 0;
  /** Bytes of content copied or replaced. */
  #done = 0;

  constructor(private readonly content: Buffer) {}

  /** Replaces `content[start..end)` by `length` bytes, which the caller writes into `buffer` at `at`. */
  replace(start: number, end: number, length: number): { buffer: Buffer; at: number } {
    const needed = this.#at + (start - this.#done) + length + (this.content.length - end);
    if (!this.#out || needed > this.#out.length) {
      // An eighth more than the content, then grown as needed: tokens are longer than most addresses.
      const bigger = Buffer.allocUnsafe(Math.max(needed, this.content.length + (this.content.length >> 3)) + 4096);
      this.#out?.copy(bigger, 0, 0, this.#at);
      this.#out = bigger;
    }
    this.#at += this.content.copy(this.#out, this.#at, this.#done, start);
    const at = this.#at;
    this.#at += length;
    this.#done = end;
    return { buffer: this.#out, at };
  }

  /** The result: `content` itself when nothing was replaced. */
  finish(): Buffer {
    if (!this.#out) return this.content;
    this.#at += this.content.copy(this.#out, this.#at, this.#done);
    return this.#out.subarray(0, this.#at);
  }
}


const DOT = 0x2e;
const COLON = 0x3a;
const DASH = 0x2d;

/** Byte classes of {@link nextRun}, which inlines their values. */
const C_HEX = 1;
const C_COLON = 2;
const C_DOT = 4;
const C_DASH = 8;
/** A letter, a digit or `_`. */
const C_WORD = 16;
const CLASS = Uint8Array.from({ length: 256 }, (_, b) =>
  (isHex(b) ? C_HEX : 0) | (b === COLON ? C_COLON : 0) | (b === DOT ? C_DOT : 0) | (b === DASH ? C_DASH : 0) | (isWordOrNumber(b, false) ? C_WORD : 0));

/** What {@link nextRun} found: where the run ends, its separators, and whether a credential key was seen so far. */
const RUN_END = 0;
const RUN_DOTS = 1;
const RUN_COLONS = 2;
const RUN_DASHES = 3;
const RUN_DOUBLE_COLON = 4;
const RUN_CREDENTIAL = 5;
const RUN_STATE = new Int32Array(6);

/**
 * The start of the next run from `from` (hex digits, `:`, `.` and `-`, starting with a hex digit or `:`) that has
 * enough separators to hold an address (three dots, `::`, five colons or five dashes), or -1; its end and counts go to
 * `run`. On the way, every colon is checked for a credential key before it. A plain function over typed arrays, its
 * constants inlined: it touches every byte of every gathered text, and as a method reading module constants it was
 * three times slower.
 */
function nextRun(content: Uint8Array, from: number, run: Int32Array): number {
  const classes = CLASS;
  const length = content.length;
  for (let i = from; i < length; i++) {
    const first = classes[content[i]!]!;
    if ((first & 3) === 0) { // not C_HEX | C_COLON
      // A word (C_WORD) that starts with no hex digit: no address starts inside it (one glued to a word is none).
      if (first & 16) while (i + 1 < length && (classes[content[i + 1]!]! & 16) !== 0) i++;
      continue;
    }
    let end = i;
    let dots = 0;
    let colons = 0;
    let dashes = 0;
    let doubleColon = 0;
    for (; end < length; end++) {
      const c = classes[content[end]!]!;
      if ((c & 15) === 0) break; // C_HEX | C_COLON | C_DOT | C_DASH
      if (c & 4) dots++; // C_DOT
      else if (c & 2) { // C_COLON
        colons++;
        const before = content[end - 1] ?? 0;
        if (before === 0x3a && end > i) doubleColon = 1;
        if (CREDENTIAL_KEY_END[before] === 1 || before === 0x22 || before === 0x27 || before === 0x20) {
          if (run[RUN_CREDENTIAL] === 0 && credentialKeyBefore(content, end)) run[RUN_CREDENTIAL] = 1;
        }
      } else if (c & 8) dashes++; // C_DASH
    }
    if (dots >= 3 || doubleColon === 1 || colons >= 5 || dashes >= 5) {
      run[RUN_END] = end;
      run[RUN_DOTS] = dots;
      run[RUN_COLONS] = colons;
      run[RUN_DASHES] = dashes;
      run[RUN_DOUBLE_COLON] = doubleColon;
      return i;
    }
    i = end - 1;
  }
  return -1;
}

/**
 * Without `Secret`, a private key's armour or a credential key before a colon (noted by the address scan, which sees
 * every colon anyway: searching the text for each key costs more than the whole scan) no secret rule can match.
 */
const SECRET_HINT = Buffer.from('Secret', 'latin1');
const PEM_HINT = Buffer.from('PRIVATE KEY-----', 'latin1');
const CREDENTIAL_KEY_BYTES = CREDENTIAL_KEYS.split('|').map((key) => Buffer.from(key, 'latin1'));
/** 1 for the last bytes of the credential keys: most colons follow none of them. */
const CREDENTIAL_KEY_END = Uint8Array.from({ length: 256 }, (_, b) => (CREDENTIAL_KEY_BYTES.some((key) => key[key.length - 1] === b) ? 1 : 0));

/** Whether a credential key (maybe quoted) ends right before the colon at `colon`. */
function credentialKeyBefore(content: Uint8Array, colon: number): boolean {
  let end = colon;
  while (content[end - 1] === 0x20 || content[end - 1] === 0x09) end--; // `"token" : ...`
  if (content[end - 1] === 0x22 || content[end - 1] === 0x27) end--; // a quote
  if (CREDENTIAL_KEY_END[content[end - 1]!] !== 1) return false;
  return CREDENTIAL_KEY_BYTES.some((key) => end >= key.length && key.every((b, k) => content[end - key.length + k] === b));
}

function isDigit(code: number): boolean {
  return code >= 0x30 && code <= 0x39;
}

/** A letter, a digit or `_` (or a `.` when `dot`): what may not touch an address on either side. */
function isWordOrNumber(code: number, dot: boolean): boolean {
  return isDigit(code) || (code >= 0x41 && code <= 0x5a) || (code >= 0x61 && code <= 0x7a) || code === 0x5f || (dot && code === DOT);
}

function isHex(code: number): boolean {
  return isDigit(code) || (code >= 0x41 && code <= 0x46) || (code >= 0x61 && code <= 0x66);
}

/** A hex digit or `:`. */
function isV6Char(code: number): boolean {
  return isHex(code) || code === COLON;
}

/**
 * Where the IPv4 address that the run `start..end` is (optionally followed by `:<port>`) ends, or -1 when the run is
 * not exactly that; its octets go to {@link IPV4_OCTETS}.
 */
function ipv4At(content: Uint8Array, start: number, end: number): number {
  let octet = 0;
  let digits = 0;
  let dots = 0;
  for (let i = start; i < end; i++) {
    const b = content[i]!;
    if (b >= 0x30 && b <= 0x39) {
      octet = octet * 10 + b - 0x30;
      if (++digits > 3 || octet > 255) return -1;
    } else if (b === DOT && digits > 0 && dots < 3) {
      IPV4_OCTETS[dots++] = octet;
      octet = 0;
      digits = 0;
    } else if (b === COLON && dots === 3 && digits > 0) {
      for (let p = i + 1; p < end; p++) if (content[p]! < 0x30 || content[p]! > 0x39) return -1;
      IPV4_OCTETS[3] = octet;
      return end > i + 1 ? i : -1;
    } else {
      return -1;
    }
  }
  IPV4_OCTETS[3] = octet;
  return dots === 3 && digits > 0 ? end : -1;
}

/** The octets {@link ipv4At} read last: tokens of IPv4 addresses are made from these four bytes (`010.0.0.1` is `10.0.0.1`). */
const IPV4_OCTETS = new Uint8Array(4);


function isEmptyValue(value: string): boolean {
  return /^(?:""|''|~|null|\|[-+]?|>[-+]?)?\s*$/.test(value);
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** JSON as Go's encoders write it for kubectl: `indent` per level (or compact), `<`, `>` and `&` escaped. */
function jsonText(value: unknown, indent?: string): string {
  return JSON.stringify(value, null, indent).replace(/[<>&]/g, (c) => `\\u00${c.charCodeAt(0).toString(16)}`);
}

/** The one JSON object a line holds, from its first `{` to its last `}`. */
function lineJsonObject(line: string): { value: unknown; start: number; end: number } | undefined {
  const start = line.indexOf('{');
  const end = line.lastIndexOf('}') + 1;
  if (start < 0 || end <= start) return undefined;
  const value = parseJson(line.slice(start, end));
  return typeof value === 'object' && value !== null ? { value, start, end } : undefined;
}

/** Indentation of a line in spaces, or -1 for a blank or comment-only line. */
function indentOf(line: string): number {
  const depth = line.search(/[^ ]/);
  if (depth < 0 || line[depth] === '\r' || line[depth] === '#') return -1;
  return depth;
}

/** The key of a `key: ...` line at exactly `indent` (a `- key:` item counts at its key's column). */
function keyAt(line: string, indent: number): string | undefined {
  const m = /^( *)(- )?([^ :#][^:]*?)[ \t]*:(?:[ \t]|\r?$)/.exec(line);
  if (!m || m[1]!.length + (m[2] ? 2 : 0) !== indent) return undefined;
  return m[3]!.replace(/^["']|["']$/g, '');
}

/** The colon after a mapping key on this line, or -1. */
function keyColon(line: string): number {
  const m = /^ *(?:- )?(?:"(?:[^"\\]|\\.)*"|'[^']*'|[^ :#][^:]*?)[ \t]*:(?:[ \t]|\r?$)/.exec(line);
  return m ? m[0].trimEnd().length - 1 : -1;
}

/** First and last line of the block mapping at `indent` that holds line `at`. */
function mappingBounds(lines: readonly string[], at: number, indent: number): [number, number] {
  const isItemStart = (line: string) => /^ *- /.test(line) && line.indexOf('- ') + 2 === indent;
  const ends = (line: string) => /^(?:---|\.\.\.)(?:\s|$)/.test(line);
  let first = at;
  if (!isItemStart(lines[at]!)) {
    for (let k = at - 1; k >= 0; k--) {
      const line = lines[k]!;
      if (ends(line)) break;
      const depth = indentOf(line);
      if (depth < 0 || depth > indent) continue;
      if (isItemStart(line)) {
        first = k;
        break;
      }
      if (depth < indent) break;
      first = k;
    }
  }
  let last = at;
  for (let k = at + 1; k < lines.length; k++) {
    const line = lines[k]!;
    if (ends(line)) break;
    const depth = indentOf(line);
    if (depth < 0 || depth > indent) {
      last = k;
      continue;
    }
    if (depth < indent || isItemStart(line)) break;
    last = k;
  }
  return [first, last];
}

/** The eight groups of an IPv6 address, lowercase, without leading zeros (an embedded IPv4 kept as written). */
function normaliseIPv6(address: string): string {
  const lower = address.toLowerCase();
  const [head, tail] = lower.includes('::') ? lower.split('::') as [string, string] : [lower, undefined];
  const groups = (part: string) => (part ? part.split(':') : []);
  const left = groups(head);
  const right = tail === undefined ? [] : groups(tail);
  const width = (list: string[]) => list.reduce((n, g) => n + (g.includes('.') ? 2 : 1), 0);
  const zeros = tail === undefined ? [] : Array.from({ length: 8 - width(left) - width(right) }, () => '0');
  return [...left, ...zeros, ...right].map((g) => (g.includes('.') ? g : g.replace(/^0+(?=.)/, ''))).join(':');
}

