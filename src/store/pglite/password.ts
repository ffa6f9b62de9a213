/**
 * The embedded database's wire-port password: made on first start (24
 * random bytes, base64url: 32 characters that need no quoting in a shell or
 * a URL) and kept in a file only its owner can read, by default
 * `pg-password` in the data directory. A file that other users could read
 * is refused rather than used: whoever reads it is superuser of the data.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, fstatSync, openSync, readFileSync, writeSync } from 'node:fs';
import { ConfigError } from '../../errors.ts';
import { fileErrorReason } from '../../common/file-errors.ts';

export const PASSWORD_FILE = 'pg-password';

/** Printable ASCII only: SASLprep (RFC 4013), which libpq applies before SCRAM, leaves it unchanged. */
const PRINTABLE = /^[\x20-\x7e]+$/;
const MIN_LENGTH = 12;

/** A fresh password that is not kept anywhere (a `memory://` database without --pg-password-file). */
export function ephemeralPassword(): string {
  return randomBytes(24).toString('base64url');
}

/** Reads the password from `file`, creating the file with a new one (mode 0600) if it does not exist. */
export function loadPassword(file: string): string {
  let fd: number;
  try {
    fd = openSync(file, 'wx', 0o600);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') return readPassword(file);
    throw new ConfigError(`cannot create the wire port's password file ${file} (--pg-password-file): ${fileErrorReason(err)}`);
  }
  const password = ephemeralPassword();
  try {
    writeSync(fd, `${password}\n`);
  } finally {
    closeSync(fd);
  }
  return password;
}

function readPassword(file: string): string {
  let text: string;
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch (err) {
    throw new ConfigError(`cannot read the wire port's password file ${file} (--pg-password-file): ${fileErrorReason(err)}`);
  }
  try {
    const { mode } = fstatSync(fd);
    if ((mode & 0o077) !== 0) {
      throw new ConfigError(
        `the wire port's password file ${file} is accessible to other users (mode ${(mode & 0o777).toString(8).padStart(4, '0')}): ` +
          `make it owner-only with chmod 600 ${file} (--pg-password-file)`,
      );
    }
    text = readFileSync(fd, 'utf8');
  } finally {
    closeSync(fd);
  }
  const password = text.split(/\r?\n/)[0] ?? '';
  if (!PRINTABLE.test(password) || password.length < MIN_LENGTH) {
    throw new ConfigError(`the wire port's password file ${file} must hold a password of at least ${MIN_LENGTH} printable ASCII characters on its first line (--pg-password-file)`);
  }
  return password;
}
