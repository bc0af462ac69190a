// An order-independent hash of a set of filters, kept up to date in O(1) per add or remove: the
// 64-bit digest is two 32-bit sums (mod 2^32) of two independent per-filter hashes. A sum, not an
// XOR, so the same filter added twice (a bug) does not cancel out. Not cryptographic: it detects
// drift between replicas of a slice, it does not defend against a peer (the shared secret does).

/** FNV-1a over UTF-16 code units, finished with murmur3's fmix32 for avalanche. Also picks a
 * topic's forwarding stream (src/cluster/peer-transport.ts). */
export function hashA(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return fmix32(h);
}

/** A second, independent hash (multiply-rotate over code units with another seed). */
function hashB(text: string): number {
  let h = 0x9747b28c ^ text.length;
  for (let i = 0; i < text.length; i++) {
    h = Math.imul(h ^ text.charCodeAt(i), 0x5bd1e995);
    h = (h << 13) | (h >>> 19);
  }
  return fmix32(h);
}

function fmix32(input: number): number {
  let h = input;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

export class SetDigest {
  private a = 0;
  private b = 0;

  add(filter: string): void {
    this.a = (this.a + hashA(filter)) >>> 0;
    this.b = (this.b + hashB(filter)) >>> 0;
  }

  remove(filter: string): void {
    this.a = (this.a - hashA(filter)) >>> 0;
    this.b = (this.b - hashB(filter)) >>> 0;
  }

  clear(): void {
    this.a = this.b = 0;
  }

  /** 16 hex digits. */
  hex(): string {
    return this.a.toString(16).padStart(8, '0') + this.b.toString(16).padStart(8, '0');
  }
}

/** The digest of a whole set at once (what SetDigest holds after adding each filter). */
export function digestOf(filters: Iterable<string>): string {
  const d = new SetDigest();
  for (const f of filters) d.add(f);
  return d.hex();
}
