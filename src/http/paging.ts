// Cursor paging of the admin API's lists. Items are ordered by a string key (client id, topic,
// filter); the cursor is the key of the last item returned, base64url-encoded behind a `c` (so
// even an empty key makes a non-empty cursor), so a page after it
// starts at the first key greater than it: stable while items come and go, no offsets to drift.
// Pure.
import { HttpError } from './http-errors.js';

export const DEFAULT_PAGE_LIMIT = 100;
export const MAX_PAGE_LIMIT = 1000;

export interface PageRequest {
  limit: number;
  /** Key of the last item of the previous page; null for the first page. */
  after: string | null;
}

export interface Page<T> {
  data: T[];
  /** Pass as ?cursor= for the next page; null on the last one. */
  nextCursor: string | null;
  /** Items matching the filters, on every page. */
  total: number;
}

/** Reads ?limit= and ?cursor=; a bad value is a 400 naming it. */
export function pageRequest(params: URLSearchParams): PageRequest {
  const limitText = params.get('limit');
  let limit = DEFAULT_PAGE_LIMIT;
  if (limitText !== null) {
    if (!/^\d{1,7}$/.test(limitText) || Number(limitText) < 1 || Number(limitText) > MAX_PAGE_LIMIT) {
      throw new HttpError(400, 'bad_request', `invalid limit ${JSON.stringify(limitText)}: an integer 1..${MAX_PAGE_LIMIT}`);
    }
    limit = Number(limitText);
  }
  const cursor = params.get('cursor');
  if (cursor === null || cursor === '') return { limit, after: null };
  if (!/^c[A-Za-z0-9_-]*$/.test(cursor)) throw new HttpError(400, 'bad_request', `invalid cursor ${JSON.stringify(cursor)}: pass the nextCursor of the previous page as it is`);
  return { limit, after: Buffer.from(cursor.slice(1), 'base64url').toString('utf8') };
}

/** One page of `items` (any order) by `keyOf`, which must be unique per item. */
export function paginate<T>(items: readonly T[], keyOf: (item: T) => string, req: PageRequest): Page<T> {
  const keyed = items.map((item) => ({ key: keyOf(item), item }));
  keyed.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  let start = 0;
  if (req.after !== null) {
    // First key after the cursor: binary search over the sorted keys.
    let lo = 0;
    let hi = keyed.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (keyed[mid]!.key <= req.after) lo = mid + 1;
      else hi = mid;
    }
    start = lo;
  }
  const slice = keyed.slice(start, start + req.limit);
  const more = start + req.limit < keyed.length;
  const last = slice[slice.length - 1];
  return {
    data: slice.map((k) => k.item),
    nextCursor: more && last !== undefined ? `c${Buffer.from(last.key, 'utf8').toString('base64url')}` : null,
    total: keyed.length,
  };
}
