import { createHmac, timingSafeEqual } from 'node:crypto';
import { InvalidRequestError } from '../errors.ts';
import type { ListPosition } from '../ports.ts';
import { TASK_ID_PATTERN } from './task.ts';

/**
 * The `next` cursors of `GET /tasks`: a place in one owner's list, opaque to clients and signed
 * (HMAC-SHA256) together with the owner and the listing's filters. A cursor that was altered, given
 * by another user, or given for other filters is refused with a 400: a cursor can never page
 * through someone else's tasks (the query is by the caller's own owner key anyway; the signature
 * also keeps forged positions out of the index query), and a page never silently changes filters.
 */

/** What a cursor is bound to besides its position: who listed, and with which filters. */
export interface CursorScope {
  readonly owner: string;
  readonly state?: string;
  readonly name?: string;
}
export class ListCursors {
  readonly #key: Buffer;

  /** `secret` is any secret the API already holds; the key is derived from it for this use alone. */
  constructor(secret: string | Buffer) {
    this.#key = createHmac('sha256', secret).update('doozer list cursor v1').digest();
  }

  encode(scope: CursorScope, position: ListPosition): string {
    const payload = Buffer.from(JSON.stringify([position.createdAt, position.id])).toString('base64url');
    return `${payload}.${this.#sign(scope, payload).toString('base64url')}`;
  }

  /** The position a cursor stands for; InvalidRequestError when this API did not give it for `scope`. */
  decode(scope: CursorScope, cursor: string): ListPosition {
    const refused = () =>
      new InvalidRequestError('the cursor is not one this API gave you for this listing (the same state and name filters); list from the start without it');
    const [payload, signature, ...rest] = cursor.split('.');
    if (!payload || !signature || rest.length > 0) throw refused();
    const expected = this.#sign(scope, payload);
    const given = Buffer.from(signature, 'base64url');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw refused();
    let position: unknown;
    try {
      position = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
    } catch {
      throw refused();
    }
    // Signed by us, so well formed; checked all the same, as every input is.
    if (!Array.isArray(position) || position.length !== 2) throw refused();
    const [createdAt, id] = position as unknown[];
    if (typeof createdAt !== 'string' || Number.isNaN(Date.parse(createdAt)) || typeof id !== 'string' || !TASK_ID_PATTERN.test(id)) {
      throw refused();
    }
    return { createdAt, id };
  }

  #sign({ owner, state, name }: CursorScope, payload: string): Buffer {
    return createHmac('sha256', this.#key)
      .update(JSON.stringify([owner, state ?? null, name ?? null, payload]))
      .digest();
  }
}
