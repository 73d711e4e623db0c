/**
 * `npm run hash-password`: reads a password on stdin and prints the scrypt hash to put in
 * DOOZER_USERS, e.g. `echo -n 's3cret' | npm run --silent hash-password`.
 */
import { text } from 'node:stream/consumers';
import { hashPassword } from '../lib/auth/passwords.ts';

const password = (await text(process.stdin)).replace(/\r?\n$/, '');
if (!password) {
  console.error('hash-password: give the password on stdin, e.g. `echo -n "s3cret" | npm run --silent hash-password`');
  process.exit(2);
}
console.log(await hashPassword(password));
