import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { HttpError } from '../../../src/http/http-errors.js';
import { MAX_PAGE_LIMIT, pageRequest, paginate, type Page } from '../../../src/http/paging.js';

const key = (s: string): string => s;

test('following nextCursor from the first page visits every item once, in key order', () => {
  fc.assert(
    fc.property(fc.uniqueArray(fc.string({ unit: 'grapheme', maxLength: 6 }), { maxLength: 60 }), fc.integer({ min: 1, max: 7 }), (items, limit) => {
      const seen: string[] = [];
      let after: string | null = null;
      for (let pages = 0; pages <= items.length + 1; pages++) {
        const page: Page<string> = paginate(items, key, { limit, after });
        assert.equal(page.total, items.length);
        assert.ok(page.data.length <= limit);
        seen.push(...page.data);
        if (page.nextCursor === null) break;
        after = pageRequest(new URLSearchParams({ cursor: page.nextCursor })).after;
      }
      assert.deepEqual(seen, [...items].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)));
    }),
  );
});

test('a page after a cursor starts past it even when that item is gone meanwhile', () => {
  const first = paginate(['a', 'b', 'c', 'd'], key, { limit: 2, after: null });
  assert.deepEqual(first.data, ['a', 'b']);
  const after = pageRequest(new URLSearchParams({ cursor: first.nextCursor! })).after;
  assert.deepEqual(paginate(['a', 'c', 'd'], key, { limit: 2, after }).data, ['c', 'd']);
});

test('bad limit and cursor values are 400s naming them', () => {
  for (const limit of ['0', '-1', 'ten', String(MAX_PAGE_LIMIT + 1), '1.5']) {
    assert.throws(() => pageRequest(new URLSearchParams({ limit })), (e: unknown) => e instanceof HttpError && e.status === 400 && e.message.includes(`invalid limit "${limit}"`));
  }
  assert.throws(() => pageRequest(new URLSearchParams({ cursor: 'a b' })), (e: unknown) => e instanceof HttpError && e.status === 400 && /invalid cursor/.test(e.message));
  assert.deepEqual(pageRequest(new URLSearchParams()), { limit: 100, after: null });
});
