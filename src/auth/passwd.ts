/**
 * @module auth/passwd
 * The SASL user file behind AUTH PLAIN and AUTH LOGIN (RFC 4616, draft-murchison-sasl-login).
 *
 * Format: UTF-8 text, one user per line, `#` comments and blank lines allowed:
 *
 *     # user:$scrypt$ln=<log2 N>,r=<block size>,p=<parallelism>$<salt>$<key>
 *     alice:$scrypt$ln=14,r=8,p=1$8Gq2k0wQm1x0Zr8yqg3pVw$1O5z…
 *
 * The hash field follows the PHC string shape: salt and derived key in standard base64 without
 * padding (padding is accepted when read). New entries use N=2^14, r=8, p=1 (16 MiB, the
 * interactive-login setting of RFC 7914 §2), a 16-byte random salt and a 32-byte key.
 *
 * Failure behaviour: a missing file means no users. A malformed line is reported once per load
 * as `file:line: …` and never matches; the rest of the file still works. A user named twice
 * keeps the first entry, as postmap(1) does with duplicate keys, with a warning.
 *
 * Writes (`addUser`, `removeUser`) hash the password first, then take `FILE.lock` (O_EXCL),
 * rewrite the whole file into a temporary file in the same directory (mode 0600, fsync), rename
 * it over the old one and fsync the directory, so a crash leaves either the old or the new file
 * and two concurrent writers never lose each other's entries.
 *
 * XXX: names and passwords are compared as given, without SASLprep (RFC 4013) normalisation.
 */
import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import { constants as fsc } from 'node:fs';
import { link, open, readFile, rename, stat, unlink } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import type { ConfigWarning } from '../config/types.js';

/** Why a passwd operation was refused. `invalid-*` are the caller's input; the rest are the system's. */
export type PasswdErrorKind = 'invalid-user' | 'invalid-password' | 'locked' | 'io';

export class PasswdError extends Error {
  override readonly name = 'PasswdError';
  constructor(readonly kind: PasswdErrorKind, message: string, options?: ErrorOptions) {
    super(message, options);
  }
}

/** scrypt cost of new entries: N = 2^ln, r, p (RFC 7914 §2). */
export const SCRYPT_DEFAULTS = { ln: 14, r: 8, p: 1 } as const;
const SALT_BYTES = 16;
const KEY_BYTES = 32;
/** Refuse entries whose cost would pin more than this much memory per check (128·N·r bytes). */
const MAX_SCRYPT_MEMORY = 256 * 1024 * 1024;
const MAX_USER_CHARS = 255;

interface ScryptParams { readonly ln: number; readonly r: number; readonly p: number }
interface Entry { readonly params: ScryptParams; readonly salt: Buffer; readonly key: Buffer }

// ---------------------------------------------------------------------------------------------
// Validation

/** userProblem - the reason a user name cannot be stored, or undefined when it can. */
export function userProblem(user: string): string | undefined {
  const n = [...user].length;
  if (n === 0) return 'user name is empty';
  if (n > MAX_USER_CHARS) return `user name is longer than ${MAX_USER_CHARS} characters`;
  if (user.includes(':')) return 'user name contains ":", which separates the name from the hash';
  if (/\p{Cs}/u.test(user)) return 'user name is not valid Unicode (lone surrogate)';
  if (/[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/u.test(user)) return 'user name contains a control or invisible formatting character';
  if (/[\s\p{Zs}]/u.test(user)) return 'user name contains white space';
  // A line starting with "#" is a comment, so such a name could never be looked up.
  if (user.startsWith('#')) return 'user name starts with "#", which marks a comment line';
  return undefined;
}

/** passwordProblem - the reason a password cannot be stored, or undefined when it can. */
export function passwordProblem(password: string): string | undefined {
  if (password.length === 0) return 'password is empty';
  // AUTH PLAIN separates its fields with NUL (RFC 4616 §2), so such a password could never be sent.
  if (password.includes('\0')) return 'password contains a NUL character';
  return undefined;
}

function checkUser(user: string): void {
  const p = userProblem(user);
  if (p) throw new PasswdError('invalid-user', `invalid user name ${JSON.stringify(user)}: ${p}`);
}

function checkPassword(password: string): void {
  const p = passwordProblem(password);
  if (p) throw new PasswdError('invalid-password', `invalid password: ${p}`);
}

// ---------------------------------------------------------------------------------------------
// Hash encoding

function scryptAsync(password: string, salt: Buffer, keylen: number, params: ScryptParams): Promise<Buffer> {
  const N = 2 ** params.ln;
  const opts: ScryptOptions = {
    N, r: params.r, p: params.p,
    // OpenSSL needs about 128·r·(N + p + 2) bytes; leave headroom over Node's 32 MiB default.
    maxmem: 128 * params.r * (N + params.p + 2) + 1024 * 1024,
  };
  return new Promise((resolve, reject) => {
    scrypt(password, salt, keylen, opts, (err, key) => (err ? reject(err) : resolve(key)));
  });
}

const B64 = /^[A-Za-z0-9+/]+={0,2}$/;

function b64(buf: Buffer): string { return buf.toString('base64').replace(/=+$/, ''); }

/** formatHash - the hash field of a line, `$scrypt$ln=…,r=…,p=…$salt$key`. */
function formatHash(e: Entry): string {
  return `$scrypt$ln=${e.params.ln},r=${e.params.r},p=${e.params.p}$${b64(e.salt)}$${b64(e.key)}`;
}

/** parseHash - an entry, or the reason the hash field is unusable. */
function parseHash(field: string): Entry | string {
  const m = /^\$scrypt\$ln=(\d{1,2}),r=(\d{1,3}),p=(\d{1,3})\$([^$]*)\$([^$]*)$/.exec(field);
  if (!m) return 'expected "$scrypt$ln=N,r=N,p=N$salt$key"';
  const params = { ln: Number(m[1]), r: Number(m[2]), p: Number(m[3]) };
  if (params.ln < 1 || params.r < 1 || params.p < 1 || params.p > 16) return 'scrypt parameters out of range';
  if (128 * 2 ** params.ln * params.r > MAX_SCRYPT_MEMORY) return 'scrypt parameters need more than 256 MiB';
  const [salt64, key64] = [m[4]!, m[5]!];
  if (!B64.test(salt64) || !B64.test(key64)) return 'salt or key is not base64';
  const salt = Buffer.from(salt64, 'base64');
  const key = Buffer.from(key64, 'base64');
  if (salt.length < 8) return 'salt is shorter than 8 bytes';
  if (key.length < 16 || key.length > 64) return 'key is not 16 to 64 bytes long';
  return { params, salt, key };
}

async function newEntry(password: string): Promise<Entry> {
  const salt = randomBytes(SALT_BYTES);
  const key = await scryptAsync(password, salt, KEY_BYTES, SCRYPT_DEFAULTS);
  return { params: SCRYPT_DEFAULTS, salt, key };
}

/** hashPassword - the hash field for a new entry (for tools that write the file themselves). */
export async function hashPassword(password: string): Promise<string> {
  checkPassword(password);
  return formatHash(await newEntry(password));
}

// ---------------------------------------------------------------------------------------------
// Reading

interface Parsed {
  readonly users: ReadonlyMap<string, Entry | 'malformed'>;
  readonly warnings: readonly ConfigWarning[];
}

/** Splits the file into lines, accepting a final line without a newline and CRLF line ends. */
function splitLines(text: string): string[] {
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  return lines.map((l) => (l.endsWith('\r') ? l.slice(0, -1) : l));
}

const isComment = (line: string) => /^\s*(#|$)/.test(line);

function parseFile(text: string, file: string): Parsed {
  const users = new Map<string, Entry | 'malformed'>();
  const warnings: ConfigWarning[] = [];
  splitLines(text).forEach((line, i) => {
    if (isComment(line)) return;
    const warn = (message: string) => warnings.push({ file, line: i + 1, message });
    const colon = line.indexOf(':');
    if (colon < 0) { warn('malformed entry: expected "user:hash"'); return; }
    const user = line.slice(0, colon);
    const problem = userProblem(user);
    if (problem) { warn(`malformed entry: ${problem}`); return; }
    if (users.has(user)) { warn(`duplicate entry for user "${user}": the first one is used`); return; }
    const e = parseHash(line.slice(colon + 1));
    if (typeof e === 'string') {
      warn(`malformed entry for user "${user}": ${e}`);
      // Remembered so a later duplicate line cannot take over a user the admin meant to set.
      users.set(user, 'malformed');
      return;
    }
    users.set(user, e);
  });
  return { users, warnings };
}

const EMPTY: Parsed = { users: new Map(), warnings: [] };

function isNotFound(e: unknown): boolean {
  return (e as NodeJS.ErrnoException | undefined)?.code === 'ENOENT';
}

export interface PasswdFileOptions {
  /** Called once per (re)load for each malformed or duplicate line. Default: write to stderr. */
  readonly onWarning?: (w: ConfigWarning) => void;
}

/**
 * PasswdFile - checks SASL credentials against the file, re-reading it when it changes.
 * Each `verify` costs one stat(2) plus one scrypt run, whether or not the user exists.
 */
export class PasswdFile {
  private parsed: Parsed = EMPTY;
  /** Identity of the file last read: inode, size and mtime; '' when it did not exist. */
  private stamp: string | undefined;
  private loading: Promise<void> | undefined;
  private dummy: Entry | undefined;
  private readonly onWarning: (w: ConfigWarning) => void;

  constructor(readonly path: string, opts: PasswdFileOptions = {}) {
    this.onWarning = opts.onWarning
      ?? ((w) => process.stderr.write(`warning: ${w.file}:${w.line}: ${w.message}\n`));
  }

  /** Problems found in the file at its last load. */
  get warnings(): readonly ConfigWarning[] { return this.parsed.warnings; }

  /** verify - true when the user exists and the password matches its hash. */
  async verify(user: string, password: string): Promise<boolean> {
    await this.refresh();
    const found = userProblem(user) ? undefined : this.parsed.users.get(user);
    const entry = found && found !== 'malformed' ? found : this.dummyEntry();
    // Unknown users, malformed entries and unusable passwords spend one scrypt run like a real
    // check, so response time does not tell which user names exist.
    const key = await scryptAsync(password, entry.salt, entry.key.length, entry.params);
    const same = timingSafeEqual(key, entry.key);
    return same && entry !== this.dummy && passwordProblem(password) === undefined;
  }

  /** refresh - reloads the file if its inode, size or mtime changed since the last load. */
  private async refresh(): Promise<void> {
    while (this.loading) await this.loading;
    let st;
    try {
      st = await stat(this.path, { bigint: true });
    } catch (e) {
      if (!isNotFound(e)) throw new PasswdError('io', `cannot stat ${this.path}: ${(e as Error).message}`, { cause: e });
    }
    const stamp = st ? `${st.ino}:${st.size}:${st.mtimeNs}` : '';
    if (stamp === this.stamp) return;
    this.loading = this.load(stamp).finally(() => { this.loading = undefined; });
    await this.loading;
  }

  private async load(stamp: string): Promise<void> {
    if (stamp === '') { this.parsed = EMPTY; this.stamp = stamp; return; }
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (e) {
      if (!isNotFound(e)) throw new PasswdError('io', `cannot read ${this.path}: ${(e as Error).message}`, { cause: e });
      this.parsed = EMPTY; this.stamp = ''; return;
    }
    this.parsed = parseFile(text, this.path);
    this.stamp = stamp;
    for (const w of this.parsed.warnings) this.onWarning(w);
  }

  private dummyEntry(): Entry {
    // A random key nobody can hit; verify() also refuses it by identity.
    this.dummy ??= { params: SCRYPT_DEFAULTS, salt: randomBytes(SALT_BYTES), key: randomBytes(KEY_BYTES) };
    return this.dummy;
  }
}

// ---------------------------------------------------------------------------------------------
// Writing

/** How long to wait for another writer's lock, and when an untouched lock counts as abandoned. */
const LOCK_WAIT_MS = 10_000;
const LOCK_STALE_MS = 60_000;

/** Per-path queue so writers in one process take turns without polling the lock file. */
const inProcess = new Map<string, Promise<unknown>>();

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * A lock file's identity: inode, mtime and content. Content holds the writer's pid and a random
 * nonce, so a new lock that happens to reuse a freed inode still differs.
 */
async function lockIdentity(lock: string): Promise<{ id: string; text: string; mtimeMs: number } | undefined> {
  try {
    const st = await stat(lock, { bigint: true });
    const text = await readFile(lock, 'utf8');
    return { id: `${st.ino}:${st.mtimeNs}:${text}`, text, mtimeMs: Number(st.mtimeMs) };
  } catch (e) {
    if (isNotFound(e)) return undefined;
    throw e;
  }
}

/** lockState - who holds the lock, and whether it is stale: holder gone, or older than LOCK_STALE_MS. */
async function lockState(lock: string): Promise<{ stale: boolean; id?: string; holder: string }> {
  const l = await lockIdentity(lock);
  if (!l) return { stale: false, holder: 'nobody' };
  const pid = Number(/^(\d+)(?:\s|$)/.exec(l.text)?.[1] ?? NaN);
  // An empty lock may be one being written right now: only its age makes it stale.
  const dead = Number.isInteger(pid) && pid > 0 && !pidAlive(pid);
  return { stale: dead || Date.now() - l.mtimeMs > LOCK_STALE_MS, id: l.id, holder: Number.isInteger(pid) ? `pid ${pid}` : 'another writer' };
}

/** breakLock - removes a stale lock, taking care not to remove one a live writer just created. */
async function breakLock(lock: string, id: string): Promise<void> {
  // Move it aside first (atomic), then check it is the very file judged stale.
  const aside = `${lock}.stale.${process.pid}.${randomBytes(4).toString('hex')}`;
  try {
    await rename(lock, aside);
  } catch (e) {
    if (isNotFound(e)) return;  // another writer broke it first
    throw e;
  }
  const moved = await lockIdentity(aside);
  if (moved && moved.id !== id) {
    // We moved a fresh lock taken in between: put it back unless yet another was taken meanwhile.
    // XXX: in that last case two writers run at once; it needs three writers racing a stale lock.
    await link(aside, lock).catch(() => undefined);
  }
  await unlink(aside).catch(() => undefined);
}

async function acquireLock(lock: string): Promise<() => Promise<void>> {
  const deadline = Date.now() + LOCK_WAIT_MS;
  let delay = 5;
  for (;;) {
    try {
      const fh = await open(lock, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL, 0o600);
      try {
        await fh.writeFile(`${process.pid} ${randomBytes(8).toString('hex')}\n`);
      } finally {
        await fh.close();
      }
      return async () => { await unlink(lock).catch(() => undefined); };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') {
        throw new PasswdError('io', `cannot create lock ${lock}: ${(e as Error).message}`, { cause: e });
      }
    }
    const s = await lockState(lock);
    if (s.stale && s.id !== undefined) { await breakLock(lock, s.id); continue; }
    if (Date.now() > deadline) {
      throw new PasswdError('locked', `${lock} is held by ${s.holder}; if no "mxguard passwd" is running, remove it`);
    }
    await new Promise((r) => setTimeout(r, delay + Math.random() * delay));
    delay = Math.min(delay * 2, 200);
  }
}

/** writeAtomically - replaces `path` with `text`: temp file 0600, fsync, rename, fsync the directory. */
async function writeAtomically(path: string, text: string): Promise<void> {
  const dir = dirname(path);
  const tmp = join(dir, `.${basename(path)}.tmp.${process.pid}.${randomBytes(4).toString('hex')}`);
  try {
    const fh = await open(tmp, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL, 0o600);
    try {
      await fh.writeFile(text, 'utf8');
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
  } catch (e) {
    await unlink(tmp).catch(() => undefined);
    throw new PasswdError('io', `cannot write ${path}: ${(e as Error).message}`, { cause: e });
  }
  // The rename is durable only once the directory entry is on disk.
  const dh = await open(dir, fsc.O_RDONLY);
  try {
    await dh.sync();
  } catch (e) {
    // Some file systems refuse fsync on a directory (EINVAL); the rename itself has happened.
    if ((e as NodeJS.ErrnoException).code !== 'EINVAL') throw e;
  } finally {
    await dh.close();
  }
}

/** withFileLock - runs `fn` holding both the in-process turn and `path.lock`. */
async function withFileLock<T>(file: string, fn: () => Promise<T>): Promise<T> {
  const path = resolve(file);
  const prev = inProcess.get(path) ?? Promise.resolve();
  const run = prev.catch(() => undefined).then(async () => {
    const release = await acquireLock(`${path}.lock`);
    try {
      return await fn();
    } finally {
      await release();
    }
  });
  inProcess.set(path, run);
  try {
    return await run;
  } finally {
    if (inProcess.get(path) === run) inProcess.delete(path);
  }
}

async function readOrEmpty(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (e) {
    if (isNotFound(e)) return undefined;
    throw new PasswdError('io', `cannot read ${path}: ${(e as Error).message}`, { cause: e });
  }
}

/** The user a line belongs to, also for malformed lines, so add/remove can replace or drop them. */
function lineUser(line: string): string | undefined {
  if (isComment(line)) return undefined;
  const colon = line.indexOf(':');
  return colon < 0 ? undefined : line.slice(0, colon);
}

const HEADER = [
  '# mxguard SASL users, maintained by "mxguard passwd add|remove USER".',
  '# Format: user:$scrypt$ln=<log2 N>,r=<r>,p=<p>$<salt base64>$<key base64>',
];

/**
 * addUser - sets the user's password, adding the user when absent. Other lines (comments,
 * other users, even malformed ones) are kept as they are; a second line for the user is dropped.
 */
export async function addUser(path: string, user: string, password: string): Promise<'added' | 'updated'> {
  checkUser(user);
  checkPassword(password);
  // Hash outside the lock: scrypt is the slow part, the lock only guards read-modify-write.
  const line = `${user}:${formatHash(await newEntry(password))}`;
  return withFileLock(path, async () => {
    const text = await readOrEmpty(path);
    const lines = text === undefined ? [...HEADER] : splitLines(text);
    let found = false;
    const out: string[] = [];
    for (const l of lines) {
      if (lineUser(l) !== user) out.push(l);
      else if (!found) { out.push(line); found = true; }
    }
    if (!found) out.push(line);
    await writeAtomically(path, out.join('\n') + '\n');
    return found ? 'updated' : 'added';
  });
}

/** removeUser - deletes every line of the user; false when there was none (or no file). */
export async function removeUser(path: string, user: string): Promise<boolean> {
  checkUser(user);
  // No file (perhaps not even its directory): nothing to remove, and no lock to take.
  if ((await readOrEmpty(path)) === undefined) return false;
  return withFileLock(path, async () => {
    const text = await readOrEmpty(path);
    if (text === undefined) return false;
    const lines = splitLines(text);
    const out = lines.filter((l) => lineUser(l) !== user);
    if (out.length === lines.length) return false;
    await writeAtomically(path, out.length ? out.join('\n') + '\n' : '');
    return true;
  });
}
