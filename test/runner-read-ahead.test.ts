/**
 * ReadAhead: how many writes may wait while the scan reads the next page. Few enough that a write
 * is based on a recent read (the read-to-write window), enough to keep the connections busy
 * while the page is read.
 */
import { describe, expect, it } from '@jest/globals';
import { ReadAhead } from '../src/runner/read-ahead.js';

describe('ReadAhead', () => {
  it('starts at twice the concurrency (at least 16), never above the cap', () => {
    expect(new ReadAhead(8, 128).limit()).toBe(16);
    expect(new ReadAhead(32, 512).limit()).toBe(64);
    expect(new ReadAhead(4, 64).limit()).toBe(16);
    expect(new ReadAhead(32, 40).limit()).toBe(40);
  });

  it('covers twice what drains while a page is read, above the floor', () => {
    const r = new ReadAhead(8, 1000);
    // 50 writes per second (0.05 per ms), pages that take 10 ms to arrive: 1 write drains per read.
    r.pageRead(1000, 10, 0);
    r.pageRead(3000, 10, 100);
    expect(r.limit()).toBe(16 + Math.ceil(2 * 0.05 * 10));
    // 2,000 writes per second and 100 ms page reads: 200 drain per read, 400 are kept.
    const fast = new ReadAhead(8, 1000);
    fast.pageRead(0, 100, 0);
    fast.pageRead(1000, 100, 2000);
    expect(fast.limit()).toBe(16 + 400);
  });

  it('grows out of a starved pipe: a faster drain or slower reads raise the limit', () => {
    const r = new ReadAhead(8, 10_000);
    r.pageRead(0, 50, 0);
    r.pageRead(100, 50, 20); // 0.2 writes/ms
    const first = r.limit();
    r.pageRead(200, 50, 120); // 1 write/ms: drains faster than the limit covered
    expect(r.limit()).toBeGreaterThan(first);
    const slowReads = new ReadAhead(8, 10_000);
    slowReads.pageRead(0, 50, 0);
    slowReads.pageRead(100, 50, 20);
    slowReads.pageRead(200, 500, 40);
    expect(slowReads.limit()).toBeGreaterThan(first);
  });

  it('is capped, and ignores stretches that wrote nothing', () => {
    const r = new ReadAhead(8, 100);
    r.pageRead(0, 1000, 0);
    r.pageRead(1000, 1000, 10_000);
    expect(r.limit()).toBe(100);
    const idle = new ReadAhead(8, 1000);
    idle.pageRead(0, 10, 0);
    idle.pageRead(1000, 10, 0); // nothing drained: no measurement yet
    expect(idle.limit()).toBe(16);
    idle.pageRead(2000, 10, 1000); // 1 write/ms
    expect(idle.limit()).toBe(16 + 20);
  });
});
